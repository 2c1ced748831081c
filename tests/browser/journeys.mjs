// Journeys through the three portals, as people would take them, in headless Chromium.
// Run by tests/it/browser.rs: node journeys.mjs <base url> <admin email> <password> [screenshot dir]
import { chromium } from "playwright-core";

const [base, adminEmail, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const failures = [];
function check(condition, what) {
  if (!condition) failures.push(what);
  console.log(`${condition ? "ok  " : "FAIL"} ${what}`);
}
async function shot(page, name) {
  if (!shots) return;
  for (const [label, width] of [["phone", 390], ["laptop", 1280]]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${shots}/${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

// The admin reads codes from the outbox, as in embedded mode.
const admin = await (await browser.newContext()).newPage();
await admin.goto(`${base}/admin`);
check(admin.url().includes("/admin/login"), "an anonymous visit to /admin goes to the admin sign-in");
await shot(admin, "admin-login");
await admin.fill("#email", adminEmail);
await admin.fill("#password", password);
await admin.click("main button[type=submit]");
await admin.waitForURL(`${base}/admin`);
check((await admin.textContent(".usermenu summary")).includes("Root"), "the admin's name is in the header");

async function codeFor(email) {
  await admin.goto(`${base}/admin/outbox?to=${encodeURIComponent(email)}`);
  const subject = await admin.textContent(".letter .subject");
  const code = subject.match(/\b\d{6}\b/);
  return code && code[0];
}

async function signUp(page, path, name, email) {
  await page.goto(`${base}${path}`);
  await page.fill("#name", name);
  await page.fill("#email", email);
  await page.fill("#password", "short");
  await page.fill("#country", "DE");
  await page.click("main button[type=submit]");
  check((await page.textContent(".field.invalid .error") || "").includes("10 characters"),
    `${path}: a short password is refused next to its field`);
  check(await page.inputValue("#email") === email, `${path}: what was typed is kept`);
  await page.fill("#password", password);
  await page.click("main button[type=submit]");
  await page.waitForURL(/signup\/verify/);
  check(await page.locator(".otp-box").count() === 6, `${path}: the code has six boxes`);
}

// A shopper signs up: a wrong code first, then the code from the outbox, typed digit by digit.
const shopperContext = await browser.newContext();
const shopper = await shopperContext.newPage();
await signUp(shopper, "/signup", "Ada Shopper", "ada@example.com");
await shot(shopper, "verify");
const code = await codeFor("ada@example.com");
check(/^\d{6}$/.test(code || ""), "the activation code is in the outbox");
const wrong = code === "000000" ? "111111" : "000000";
await shopper.locator(".otp-box").first().click();
await shopper.keyboard.type(wrong);
await shopper.waitForLoadState("load");
check((await shopper.textContent(".error")).includes("attempt"), "a wrong code says how many attempts are left");
await shopper.locator(".otp-box").first().click();
await shopper.keyboard.type(code.slice(0, 3));
await shopper.keyboard.press("Backspace");
await shopper.keyboard.type(code.slice(2));
await shopper.waitForURL(/\/account/);
check((await shopper.textContent(".notice")).includes("Welcome"), "the verified shopper lands on their account");
await shot(shopper, "account");
await shopper.goto(`${base}/`);
check((await shopper.textContent(".usermenu summary")).includes("Ada Shopper"), "the shop header shows the signed-in shopper");
await shot(shopper, "home-signed-in");

// The shopper adds an address.
await shopper.goto(`${base}/account`);
await shopper.click(".add-address summary");
await shopper.fill("#label", "Home");
await shopper.fill("#name", "Ada Shopper");
await shopper.fill("#street", "1 Main Street");
await shopper.fill("#zip", "10115");
await shopper.fill("#city", "Berlin");
await shopper.fill("#country", "Germany");
await shopper.click(".add-address button[type=submit]");
check((await shopper.textContent(".add-address .error")).includes("two-letter"), "a bad country is explained next to the field");
check(await shopper.inputValue("#street") === "1 Main Street", "the address form keeps what was typed");
await shopper.fill("#country", "DE");
await shopper.click(".add-address button[type=submit]");
await shopper.waitForURL(/done=address/);
check((await shopper.textContent(".address")).includes("10115 Berlin"), "the address is saved");

// A seller signs up (pasting the code) and opens a shop.
const seller = await (await browser.newContext()).newPage();
await signUp(seller, "/seller/signup", "Sam Seller", "sam@example.com");
const sellerCode = await codeFor("sam@example.com");
await seller.evaluate((digits) => {
  const box = document.querySelector(".otp-box");
  const data = new DataTransfer();
  data.setData("text", digits);
  box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}, ` ${sellerCode} `);
await seller.waitForURL(/\/seller\/onboarding/);
await shot(seller, "onboarding");
await seller.fill("#name", "Sam's Stoneware");
await seller.selectOption("#category", { index: 1 });
await seller.click("main button[type=submit]");
await seller.waitForURL(`${base}/seller`);
check((await seller.textContent("h1")).includes("Sam's Stoneware"), "the seller's new shop is their dashboard");
await shot(seller, "seller-dashboard");

// The seller adds a product; a price people cannot pay is explained next to its field.
await seller.click("text=New product");
await seller.fill("#title", "Speckled Stoneware Mug");
await seller.fill("#description", "Wheel-thrown, dishwasher safe.");
await seller.selectOption("#category", { index: 1 });
await seller.fill("#price", "twenty");
await seller.fill("#tags", "handmade, gift");
await seller.fill("#stock", "10");
await seller.click("main button[type=submit]");
check((await seller.textContent(".field.invalid .error") || "").includes("24.99"), "a bad price is explained next to its field");
check(await seller.inputValue("#title") === "Speckled Stoneware Mug", "the product form keeps what was typed");
await shot(seller, "product-form");
await seller.fill("#price", "24.50");
await seller.click("main button[type=submit]");
await seller.waitForURL(/done=created/);
check((await seller.textContent("table")).includes("Speckled Stoneware Mug"), "the new product is in the seller's table");

// A shopper finds it at once, despite a typo.
const browsing = await (await browser.newContext()).newPage();
await browsing.goto(`${base}/?q=stonewear+mug`);
check((await browsing.textContent("main")).includes("Speckled Stoneware Mug"), "search finds the new product despite a typo");
await shot(browsing, "search");

// Checkout: the seller makes a code; a shopper fills a cart from two shops, applies the code,
// is declined once, pays with the sandbox card and sees two orders; each seller ships theirs.
await seller.goto(`${base}/seller/codes`);
await seller.fill("#code", "SAM10");
await seller.fill("#value", "10");
await seller.click("form[action='/seller/codes'] button[type=submit]");
await seller.waitForURL(/done=created/);
check((await seller.textContent("table")).includes("SAM10"), "the seller's new code is listed");
await shot(seller, "seller-codes");
await shopper.goto(`${base}/?q=speckled`);
await shopper.click("text=Speckled Stoneware Mug");
await shopper.fill("#quantity", "2");
await shopper.click("form.buy .actions button[type=submit] >> nth=0");
await shopper.waitForURL(/\/cart$/);
await shopper.goto(`${base}/products/blue-b-mug-b`);
await shot(shopper, "product");
check((await shopper.title()).length < 80 && (await shopper.title()).includes("Mug"), "the product page's title is the product's");
await shopper.click("form.buy .actions button[type=submit] >> nth=0");
await shopper.waitForURL(/\/cart$/);
check(await shopper.locator(".cart-shop").count() === 2, "the cart groups its lines by shop");
check((await shopper.textContent(".cart-link .count")).trim() === "3", "the header counts three items");
await shopper.fill("#code", "NOPE99");
await shopper.click("form.coupon button");
check((await shopper.textContent(".alert")).includes("no code NOPE99"), "an unknown code is explained");
await shopper.fill("#code", "sam10");
await shopper.click("form.coupon button");
await shopper.waitForURL(/\/cart$/);
check((await shopper.textContent(".cart")).includes("SAM10"), "the code applies to its shop's lines");
check((await shopper.textContent(".cart-summary")).includes("−$4.90"), "the summary shows the discount (10% of 2 × $24.50)");
await shot(shopper, "cart");
await shopper.click("a.btn:has-text(\"Check out\")");
await shopper.waitForURL(/\/checkout$/);
check((await shopper.textContent(".address-choice")).includes("10115 Berlin"), "checkout offers the saved address");
await shot(shopper, "checkout");
await shopper.click("text=Continue to payment");
await shopper.waitForURL(/\/pay\//);
await shot(shopper, "pay");
await shopper.fill("#card_number", "4000 0000 0000 0002");
await shopper.click("main form button[type=submit]");
check((await shopper.textContent(".alert")).includes("declined"), "a declined card says so");
await shopper.click("a.btn:has-text(\"Check out again\")");
await shopper.waitForURL(/\/checkout$/);
await shopper.click("text=Continue to payment");
await shopper.waitForURL(/\/pay\//);
await shopper.fill("#card_number", "4000 0025 0000 3155");
await shopper.click("main form button[type=submit]");
check((await shopper.textContent("h1")).includes("Confirm"), "a card that needs it asks for the extra step");
await shopper.click("button[value=approve]");
await shopper.waitForURL(/\/done$/);
check((await shopper.textContent(".hero")).includes("Thank you"), "the payment ends on the thank-you page");
check(await shopper.locator("main tbody tr").count() === 2, "one order per shop");
await shot(shopper, "thank-you");
check((await shopper.textContent(".nav")).includes("Cart") && !(await shopper.locator(".cart-link .count").count()), "the paid cart is empty");

for (const [page, who] of [[seller, "Sam"], [null, "Clay"]]) {
  let p = page;
  if (!p) {
    p = await (await browser.newContext()).newPage();
    await p.goto(`${base}/seller/login`);
    await p.fill("#email", "clay-seller@example.com");
    await p.fill("#password", password);
    await p.click("main button[type=submit]");
    await p.waitForURL(`${base}/seller`);
  }
  await p.goto(`${base}/seller/orders`);
  check(await p.locator("main tbody tr").count() === 1, `${who} sees only their own order`);
  await shot(p, `seller-orders-${who}`);
  await p.click("main tbody tr a");
  await p.selectOption("#status", "shipped");
  await p.click("form.status-form button");
  check((await p.textContent(".timeline [aria-current=step]")).includes("Shipped"), `${who} marks the order shipped`);
  await shot(p, `seller-order-${who}`);
}
await shopper.goto(`${base}/orders`);
check((await shopper.locator("main tbody .pill").allTextContents()).filter((s) => s.includes("Shipped")).length === 2, "the shopper sees both orders shipped");
await shopper.click("main tbody tr a >> nth=0");
check((await shopper.textContent(".timeline [aria-current=step]")).includes("Shipped"), "the order page's timeline shows where it is");
await shot(shopper, "order");
await admin.goto(`${base}/admin/orders`);
check(await admin.locator("main tbody tr").count() === 2, "the admin lists every order");
await shot(admin, "admin-orders");
await admin.goto(`${base}/admin/payments`);
check((await admin.textContent("main tbody")).includes("paid"), "the admin sees the paid payment");
await seller.goto(`${base}/seller/payouts`);
check((await seller.textContent(".kpis")).includes("$39.69"), "the seller's payout is the total less the platform's 10%");
await shot(seller, "payouts");

// Within seconds the new orders reach the seller's bell (the notification pipeline; the open page
// updates itself) and the admin's dashboard (the gold and silver tables).
await seller.goto(`${base}/seller`);
const rang = await seller
  .waitForFunction(() => Number(document.querySelector(".bell").dataset.unread) > 0, null, { timeout: 30000 })
  .then(() => true, () => false);
check(rang, "the seller's bell counts the new order without a reload");
await seller.click(".bell");
await seller.waitForURL(/\/notifications$/);
check((await seller.textContent("main")).includes("New order M-"), "the seller's notifications list the new order");
await shot(seller, "notifications");
let onDashboard = false;
for (const until = Date.now() + 30000; !onDashboard && Date.now() < until; ) {
  await admin.goto(`${base}/admin`);
  onDashboard = (await admin.textContent("main")).includes("Sam's Stoneware");
}
check(onDashboard, "the admin dashboard lists the new order within seconds");
await shot(admin, "admin-dashboard");

// The admin asks which category sold most this week in the SQL explorer and downloads it.
await admin.goto(`${base}/admin/sql`);
await admin.fill("#sql", "SELECT p.category, sum(i.quantity) AS units FROM silver.order_items i JOIN silver.products p USING (product_id) WHERE i.day >= current_date - INTERVAL '7 days' GROUP BY p.category ORDER BY units DESC");
await admin.click("form.sql-form button:has-text(\"Run\")");
await admin.waitForLoadState("networkidle");
check(await admin.locator("table.results tbody tr").count() >= 1, "the explorer answers with the week's categories");
await shot(admin, "sql-explorer");
const [download] = await Promise.all([admin.waitForEvent("download"), admin.click("button[value=csv]")]);
const csv = await (await import("node:fs/promises")).readFile(await download.path(), "utf8");
check(csv.startsWith("category,units\n") && csv.trim().split("\n").length >= 2, "the answer downloads as CSV");

await browsing.click("text=Speckled Stoneware Mug");
await browsing.click(".shopcard a >> nth=0");
check((await browsing.textContent("h1")).includes("Sam's Stoneware"), "the product page leads to its shop");
await shot(browsing, "shop-page");
await browsing.click("nav.nav >> text=Shops");
await browsing.waitForURL(/\/shops(\?|$)/);
check((await browsing.textContent("main")).includes("Sam's Stoneware"), "the shops directory lists the new shop");
await shot(browsing, "shops");
await browsing.click("nav.nav >> text=Offers");
await browsing.waitForURL(/\/offers(\?|$)/);
check((await browsing.textContent("h1")).includes("Offers"), "the offers page opens");
await shot(browsing, "offers");

// The admin hides it (a shopper no longer finds it) and adds a category to the site.
await admin.goto(`${base}/admin/products?q=speckled`);
await admin.fill("form.ban input[name=reason]", "Photos belong to another shop");
await admin.click("form.ban button");
await admin.waitForURL(/done=hidden/);
check((await admin.textContent("table")).includes("Photos belong to another shop"), "the hidden product shows why");
await browsing.goto(`${base}/?q=speckled`);
check(!(await browsing.textContent("main")).includes("Speckled Stoneware Mug"), "a hidden product is not found");
await admin.goto(`${base}/admin/site`);
const tree = await admin.inputValue("#categories");
await admin.fill("#categories", tree + "\nGarden: Planters, Tools");
await admin.click("main button[type=submit]");
await admin.waitForURL(/done=saved/);
await shot(admin, "admin-site");
await browsing.goto(`${base}/`);
check((await browsing.textContent(".catnav")).includes("Garden"), "a new category shows in the shop");

// Chat: the shopper asks Sam's shop a question from its page; the seller's open inbox
// shows it at once, and the answer appears in the shopper's conversation without a reload, with
// the typing indicator and the "seen" mark on the way.
await seller.goto(`${base}/seller/inbox`);
const samsShop = await (await seller.request.get(`${base}/api/seller/shop`)).json();
await shopper.goto(`${base}/shops/${samsShop.slug}`);
await shopper.click("text=Chat with the seller");
await shopper.waitForURL(/\/inbox\/[0-9a-f-]+$/);
await shopper.fill("#message-text", "Is the mug dishwasher safe?");
await shopper.click("form.composer button[type=submit]");
const asked = await seller
  .waitForSelector("[data-inbox] .count:not([hidden])", { timeout: 10000 })
  .then(() => true, () => false);
check(asked, "the question reaches the seller's open inbox without a reload");
check(Number(await seller.textContent("[data-chat-count]")) === 1, "the seller's inbox badge counts one unread message");
await seller.click("[data-inbox] a");
await seller.waitForURL(/\/seller\/inbox\/[0-9a-f-]+$/);
await seller.waitForFunction(() => window.marketplaceLive.state === "open");
await seller.type("#message-text", "Yes, it is.");
const typed = await shopper.waitForSelector("[data-typing]:not([hidden])", { timeout: 10000 }).then(() => true, () => false);
check(typed, "the shopper sees the seller typing");
await seller.click("form.composer button[type=submit]");
const answered = await shopper
  .waitForSelector("li.msg.theirs >> text=Yes, it is.", { timeout: 10000 })
  .then(() => true, () => false);
check(answered, "the answer appears in the shopper's conversation without a reload");
const seen = await seller.waitForSelector("[data-seen]:not([hidden])", { timeout: 10000 }).then(() => true, () => false);
check(seen, "the seller sees that the shopper read the answer");
await shot(shopper, "conversation");

// The admin's live log shows a line a handler writes, as it is written.
await admin.goto(`${base}/admin/logs`);
await admin.waitForSelector("[data-live-label]:has-text('Live')", { timeout: 10000 });
await shopper.goto(`${base}/products/blue-b-mug-b`);
await shopper.click("text=Chat with the seller");
const logged = await admin
  .waitForSelector("tr >> text=conversation started", { timeout: 10000 })
  .then(() => true, () => false);
check(logged, "the admin's live log shows the new conversation's line");
await shot(admin, "admin-logs");

// Separate sign-ins: the seller portal refuses the shopper's account.
const other = await (await browser.newContext()).newPage();
await other.goto(`${base}/seller/login`);
await other.fill("#email", "ada@example.com");
await other.fill("#password", password);
await other.click("main button[type=submit]");
check((await other.textContent(".alert")).includes("shopper account"), "the seller sign-in refuses a shopper account");

// The admin bans the shopper; the shopper is refused at once.
await admin.goto(`${base}/admin/users?q=ada`);
await shot(admin, "admin-users");
await admin.fill("form.ban input[name=reason]", "Chargeback fraud");
await admin.click("form.ban button");
await admin.waitForURL(/done=banned/);
check((await admin.textContent("table")).includes("Chargeback fraud"), "the ban and its reason are listed");
const refused = await shopper.goto(`${base}/account`);
check(refused.status() === 403, "the banned shopper's next page is refused");
check((await shopper.textContent("main")).includes("Chargeback fraud"), "and says why");
const again = await (await browser.newContext()).newPage();
await again.goto(`${base}/login`);
await again.fill("#email", "ada@example.com");
await again.fill("#password", password);
await again.click("main button[type=submit]");
check((await again.textContent(".alert")).includes("banned"), "the banned shopper cannot sign in again");

// Sign-out.
await seller.click(".usermenu summary");
await seller.click(".usermenu button[type=submit]");
await seller.waitForURL(/\/seller\/login/);
check((await seller.textContent(".notice")).includes("signed out"), "signing out says so");
await seller.goto(`${base}/seller`);
check(seller.url().includes("/seller/login"), "after signing out the seller portal asks to sign in");

await admin.goto(`${base}/admin/outbox`);
await shot(admin, "admin-outbox");
await browser.close();
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all journeys passed");
