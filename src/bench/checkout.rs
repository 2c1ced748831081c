//! `marketplace bench checkout`: paid orders per second through the whole money path over HTTP
//! on loopback — `--shoppers` shoppers each put one product of each of two shops in their cart
//! (`PUT /api/cart/items/…` twice), open the payment session (`POST /api/checkout`), and the
//! provider confirms the payment with a signed `payment_intent.succeeded`
//! (`POST /api/payments/webhook`, signed with the sandbox's secret exactly as Stripe signs), which
//! places one order per shop — again and again. Every step is a durable write through the one
//! command path; the figures are paid orders/s and each step's p50/p99.

use super::http::{Answer, Connection};
use super::{Figure, figure, percentile, print};
use anyhow::Context as _;
use domain::{
    Actor, Category, Command, Currency, Money, NewProduct, NewShop, ProductId, ProductStatus, Role,
    ShopId, SiteConfig,
};
use std::path::Path;
use std::time::{Duration, Instant};

const SHOPS: usize = 8;
const PRODUCTS_PER_SHOP: usize = 25;
const PASSWORD: &str = "bench password, long enough";

/// The steps, in order, as the figures name them.
const STEPS: [&str; 3] = ["cart", "checkout", "webhook"];

pub async fn bench(
    data_dir: &Path,
    json: bool,
    shoppers: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let dir = data_dir.join("bench-checkout");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("clearing the previous bench's data")?;
    }
    let mut config = api::Config::new(&dir);
    config.background_workers = false;
    // Every bench shopper signs in from the same loopback address at setup.
    config.auth_limits.sign_in_per_ip = api::auth::Limit::new(1_000_000, 300);
    let app = api::App::start(config).await?;
    eprintln!("seeding {SHOPS} shops × {PRODUCTS_PER_SHOP} products and {shoppers} shoppers…");
    let products = catalog(&app).await?;
    let site = super::api::serve(portals::site(app.clone())).await?;
    let mut people = Vec::new();
    for n in 0..shoppers {
        people.push(shopper(&app, site, n).await?);
    }
    let secret = app.payments.webhook_secret().to_string();

    eprintln!("{shoppers} shoppers checking out for {seconds} s…");
    let warm_until = Instant::now() + Duration::from_secs(1);
    let deadline = warm_until + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = people
        .into_iter()
        .enumerate()
        .map(|(n, (token, address))| {
            let products = products.clone();
            let secret = secret.clone();
            tokio::spawn(async move {
                shop_until(
                    site, n, &token, &address, &products, &secret, warm_until, deadline,
                )
                .await
            })
        })
        .collect();
    let mut steps: [Vec<f64>; 3] = Default::default();
    let mut paid_checkouts = 0u64;
    for task in tasks {
        let run = task.await??;
        for (all, mine) in steps.iter_mut().zip(run.steps) {
            all.extend(mine);
        }
        paid_checkouts += run.paid;
    }
    let state = app.state();
    let orders = paid_checkouts * 2;
    let placed = state.orders.len() as u64;
    if placed < orders {
        anyhow::bail!("{orders} orders were confirmed, but only {placed} exist");
    }
    let oversold = state
        .products
        .values()
        .filter(|p| p.stock > 1_000_000)
        .count();
    if oversold > 0 {
        anyhow::bail!("{oversold} products gained stock");
    }
    let mut figures: Vec<Figure> = vec![
        figure("paid orders/s", orders as f64 / seconds, "orders/s", None),
        figure(
            "paid checkouts/s",
            paid_checkouts as f64 / seconds,
            "checkouts/s",
            None,
        ),
    ];
    for (name, latencies) in STEPS.iter().zip(steps.iter_mut()) {
        latencies.sort_by(f64::total_cmp);
        figures.push(figure(
            format!("{name} p50"),
            percentile(latencies, 0.50),
            "ms",
            None,
        ));
        figures.push(figure(
            format!("{name} p99"),
            percentile(latencies, 0.99),
            "ms",
            None,
        ));
    }
    app.shutdown().await;
    print(&figures, "checkout", json);
    Ok(())
}

/// Shops with plenty of stock (nobody runs out during the run: the figure is the path's, not
/// the refusals').
pub(super) async fn catalog(app: &api::AppState) -> anyhow::Result<Vec<(ProductId, ShopId)>> {
    let site = SiteConfig {
        name: "Bench Market".into(),
        categories: vec![Category {
            slug: "home".into(),
            name: "Home".into(),
            subcategories: vec![],
        }],
        ..Default::default()
    };
    app.execute(Actor::System, Command::ConfigureSite(site))
        .await?;
    let mut products = Vec::new();
    for s in 0..SHOPS {
        let shop = ShopId(uuid::Uuid::now_v7());
        let new_shop = NewShop {
            id: shop,
            owner: None,
            name: format!("Bench Shop {s}"),
            bio: String::new(),
            category: "home".into(),
            country: "DE".into(),
        };
        app.execute(Actor::System, Command::CreateShop(new_shop))
            .await?;
        for p in 0..PRODUCTS_PER_SHOP {
            let id = ProductId(uuid::Uuid::now_v7());
            let product = NewProduct {
                id,
                shop_id: shop,
                title: format!("Bench product {s}-{p}"),
                description: "A product for the checkout bench.".into(),
                category: "home".into(),
                subcategory: None,
                price: Money::new(1000 + (p as i64) * 100, Currency::USD),
                sale_price: None,
                stock: 1_000_000,
                status: ProductStatus::Active,
                images: Vec::new(),
                details: Default::default(),
            };
            app.execute(Actor::System, Command::CreateProduct(product))
                .await?;
            products.push((id, shop));
        }
    }
    Ok(products)
}

/// A shopper with an address, signed in through the API: their bearer token and address id.
async fn shopper(
    app: &api::AppState,
    site: std::net::SocketAddr,
    n: usize,
) -> anyhow::Result<(String, String)> {
    let email = format!("bench-shopper-{n}@example.com");
    api::auth::flows::create_account(
        app,
        Actor::System,
        "Bench Shopper",
        &email,
        Role::Shopper,
        PASSWORD,
    )
    .await?;
    let mut http = Connection::open(site).await?;
    let login = serde_json::to_vec(&serde_json::json!({"email": email, "password": PASSWORD}))?;
    let answer = http
        .send("POST", "/api/auth/login", &[], Some(&login))
        .await?;
    let token = json(&answer, 200, "sign-in")?["access_token"]
        .as_str()
        .context("no access token")?
        .to_string();
    let address = serde_json::to_vec(&serde_json::json!({
        "label": "Home", "name": "Bench Shopper", "street": "1 Main St", "city": "Berlin", "zip": "10115", "country": "DE"
    }))?;
    let bearer = format!("Bearer {token}");
    let answer = http
        .send(
            "POST",
            "/api/me/addresses",
            &[("Authorization", &bearer)],
            Some(&address),
        )
        .await?;
    let address = json(&answer, 201, "address")?["id"]
        .as_str()
        .context("no address id")?
        .to_string();
    Ok((token, address))
}

fn json(answer: &Answer, expected: u16, what: &str) -> anyhow::Result<serde_json::Value> {
    if answer.status != expected {
        anyhow::bail!(
            "{what}: expected {expected}, got {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    Ok(serde_json::from_slice(&answer.body)?)
}

struct Run {
    /// Latencies (ms) of each step measured after the warm-up, in [`STEPS`] order.
    steps: [Vec<f64>; 3],
    /// Checkouts paid (each places two orders) after the warm-up.
    paid: u64,
}

/// One shopper's loop: two cart lines from two shops, checkout, the provider's webhook.
#[allow(clippy::too_many_arguments)]
async fn shop_until(
    site: std::net::SocketAddr,
    n: usize,
    token: &str,
    address: &str,
    products: &[(ProductId, ShopId)],
    secret: &str,
    warm_until: Instant,
    deadline: Instant,
) -> anyhow::Result<Run> {
    let mut http = Connection::open(site).await?;
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let mut run = Run {
        steps: Default::default(),
        paid: 0,
    };
    let one = br#"{"quantity":1}"#;
    let checkout_body = serde_json::to_vec(&serde_json::json!({"address_id": address}))?;
    for round in 0.. {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let measured = started >= warm_until;
        // Two products of two different shops.
        let first = (n * 7 + round * 13) % products.len();
        let second = (first + PRODUCTS_PER_SHOP) % products.len();
        for index in [first, second] {
            let t = Instant::now();
            let answer = http
                .send(
                    "PUT",
                    &format!("/api/cart/items/{}", products[index].0),
                    &auth,
                    Some(one),
                )
                .await?;
            json(&answer, 200, "cart")?;
            if measured {
                run.steps[0].push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let t = Instant::now();
        let answer = http
            .send("POST", "/api/checkout", &auth, Some(&checkout_body))
            .await?;
        let session = json(&answer, 200, "checkout")?;
        if measured {
            run.steps[1].push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let session_id = session["session_id"].as_str().context("no session")?;
        let amount = session["amount"]["amount"].as_i64().context("no amount")?;
        // What the provider sends once the card is charged.
        let event = serde_json::to_vec(&serde_json::json!({
            "id": format!("evt_bench_{n}_{round}"),
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {
                "id": format!("pi_sbx_{}", session_id.replace('-', "")),
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "currency": "usd",
                "metadata": {"checkout_id": session_id},
            }},
        }))?;
        let signature =
            api::payments::signature::sign(secret, chrono::Utc::now().timestamp(), &event);
        let t = Instant::now();
        let answer = http
            .send(
                "POST",
                "/api/payments/webhook",
                &[("Stripe-Signature", &signature)],
                Some(&event),
            )
            .await?;
        let receipt = json(&answer, 200, "webhook")?;
        if receipt["outcome"] != "recorded" {
            anyhow::bail!("the webhook did not place the orders: {receipt}");
        }
        if measured {
            run.steps[2].push(t.elapsed().as_secs_f64() * 1000.0);
            run.paid += 1;
        }
    }
    Ok(run)
}
