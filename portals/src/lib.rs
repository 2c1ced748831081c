//! The three web portals — shop (`/`), seller (`/seller`) and admin (`/admin`) — rendered on the
//! server with askama templates (auto-escaped) and one shared stylesheet.
//!
//! Pages read the same in-memory state as the API and write through the same command path
//! ([`api::AppState::execute`]): the portals render, they hold no business rules.
//!
//! ```text
//! let app = api::App::start(config).await?;
//! let router = portals::router(app.clone()).merge(api::router(app));
//! ```

mod chrome;
mod pages;
mod session;

use api::AppState;
use axum::Router;
use axum::http::header;
use axum::routing::{MethodRouter, get, post};

const STYLESHEET: &str = include_str!("../static/style.css");
const SCRIPT: &str = include_str!("../static/portal.js");

/// The whole site: the portals and the API (`/api/*`, `/health`), as `serve` runs it.
pub fn site(app: AppState) -> Router {
    router(app.clone()).merge(api::router(app))
}

/// Who may open a page: the audience its handler enforces (anonymous visitors are sent to the
/// portal's sign-in, everyone else outside it gets a 403 page). Every form post also needs the
/// CSRF token. `tests/it/accounts.rs` walks [`pages`] with every role and checks each answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Anyone,
    /// Carts: shoppers and visitors who are not signed in (sellers, admins and analysts buy
    /// nothing with their working accounts).
    Buyer,
    SignedIn,
    Shopper,
    Seller,
    /// The admin portal's dashboard: admins and analysts.
    AdminOrAnalyst,
    Admin,
}

/// One path of the portals, its audience and its handlers.
pub struct PageRoute {
    pub path: &'static str,
    pub audience: Audience,
    pub handlers: MethodRouter<AppState>,
}

fn page(path: &'static str, audience: Audience, handlers: MethodRouter<AppState>) -> PageRoute {
    PageRoute {
        path,
        audience,
        handlers,
    }
}

/// Every portal page; [`router`] serves exactly these (plus `/static/*`).
pub fn pages() -> Vec<PageRoute> {
    use Audience::*;
    use pages::{
        account, admin, admin_accounts, admin_catalog, admin_logs, auth, browse, cart, checkout,
        inbox, notifications, orders, seller, seller_analytics, seller_codes, seller_products,
        seller_shop, shop, shop_page, sql_explorer,
    };
    vec![
        page("/", Anyone, get(shop::home)),
        page("/products/{slug}", Anyone, get(shop::product)),
        page("/products/{slug}/reviews", Shopper, post(shop::review)),
        page("/shops", Anyone, get(browse::shops)),
        page("/offers", Anyone, get(browse::offers)),
        page("/shops/{slug}", Anyone, get(shop_page::show)),
        page("/shops/{slug}/follow", Shopper, post(shop_page::follow)),
        page("/cart", Buyer, get(cart::show)),
        page("/cart/items/{id}", Buyer, post(cart::set_item)),
        page("/cart/coupon", Buyer, post(cart::apply_code)),
        page("/cart/coupon/remove", Buyer, post(cart::remove_code)),
        page("/wishlist", Shopper, get(cart::wishlist)),
        page("/wishlist/{id}", Shopper, post(cart::wish)),
        page(
            "/checkout",
            Shopper,
            get(checkout::show).post(checkout::submit),
        ),
        page(
            "/pay/{id}",
            Shopper,
            get(checkout::pay_form).post(checkout::pay),
        ),
        page("/checkout/{id}/done", Shopper, get(checkout::done)),
        page("/orders", Shopper, get(orders::mine)),
        page("/orders/{id}", Shopper, get(orders::one_of_mine)),
        page("/seller/orders", Seller, get(orders::shop_orders)),
        page("/seller/orders/{id}", Seller, get(orders::shop_order)),
        page(
            "/seller/orders/{id}/status",
            Seller,
            post(orders::set_status),
        ),
        page("/seller/payouts", Seller, get(orders::payouts)),
        page("/seller/analytics", Seller, get(seller_analytics::show)),
        page(
            "/seller/codes",
            Seller,
            get(seller_codes::show).post(seller_codes::create),
        ),
        page(
            "/seller/codes/{id}/delete",
            Seller,
            post(seller_codes::delete),
        ),
        page(
            "/seller/payouts/onboarding",
            Seller,
            post(orders::onboarding),
        ),
        page("/admin/orders", Admin, get(orders::all_orders)),
        page("/admin/logs", Admin, get(admin_logs::show)),
        page("/inbox", Shopper, get(inbox::list)),
        page("/inbox/start", Shopper, post(inbox::start)),
        page("/inbox/{id}", Shopper, get(inbox::show)),
        page("/inbox/{id}/send", Shopper, post(inbox::send)),
        page("/seller/inbox", Seller, get(inbox::list)),
        page("/seller/inbox/{id}", Seller, get(inbox::show)),
        page("/seller/inbox/{id}/send", Seller, post(inbox::send)),
        page(
            "/admin/sql",
            AdminOrAnalyst,
            get(sql_explorer::show).post(sql_explorer::run),
        ),
        page(
            "/admin/sql/download",
            AdminOrAnalyst,
            post(sql_explorer::download),
        ),
        page("/admin/shops", Admin, get(admin_catalog::shops)),
        page("/admin/payments", Admin, get(orders::payments)),
        // Sign-up, sign-in and sign-out: the same handlers serve the shop and the seller portal
        // (and sign-in the admin portal); the path says which.
        page("/signup", Anyone, get(auth::signup_form).post(auth::signup)),
        page(
            "/signup/verify",
            Anyone,
            get(auth::verify_form).post(auth::verify),
        ),
        page("/signup/resend", Anyone, post(auth::resend)),
        page("/login", Anyone, get(auth::login_form).post(auth::login)),
        page("/logout", Anyone, post(auth::logout)),
        page("/forgot", Anyone, get(auth::forgot_form).post(auth::forgot)),
        page("/reset", Anyone, get(auth::reset_form).post(auth::reset)),
        page("/account", SignedIn, get(account::show)),
        page("/notifications", SignedIn, get(notifications::show)),
        page(
            "/notifications/read-all",
            SignedIn,
            post(notifications::read_all),
        ),
        page(
            "/notifications/{id}/open",
            SignedIn,
            post(notifications::open),
        ),
        page(
            "/account/password",
            SignedIn,
            post(account::change_password),
        ),
        page("/account/addresses", Shopper, post(account::add_address)),
        page(
            "/account/addresses/{id}/delete",
            Shopper,
            post(account::remove_address),
        ),
        page("/seller", Seller, get(seller::dashboard)),
        page(
            "/seller/products/new",
            Seller,
            get(seller_products::new_product)
                .post(seller_products::create_product)
                .layer(form_with_files()),
        ),
        page(
            "/seller/products/{id}/edit",
            Seller,
            get(seller_products::edit_product)
                .post(seller_products::update_product)
                .layer(form_with_files()),
        ),
        page("/seller/products/bulk", Seller, post(seller::bulk)),
        page(
            "/seller/products/{id}/delete",
            Seller,
            post(seller::delete_product),
        ),
        page(
            "/seller/products/{id}/restore",
            Seller,
            post(seller::restore_product),
        ),
        page(
            "/seller/shop",
            Seller,
            get(seller_shop::show)
                .post(seller_shop::save)
                .layer(form_with_files()),
        ),
        page("/seller/shop/delete", Seller, post(seller_shop::delete)),
        page("/seller/shop/restore", Seller, post(seller_shop::restore)),
        page(
            "/seller/signup",
            Anyone,
            get(auth::signup_form).post(auth::signup),
        ),
        page(
            "/seller/signup/verify",
            Anyone,
            get(auth::verify_form).post(auth::verify),
        ),
        page("/seller/signup/resend", Anyone, post(auth::resend)),
        page(
            "/seller/login",
            Anyone,
            get(auth::login_form).post(auth::login),
        ),
        page(
            "/seller/onboarding",
            Seller,
            get(seller::onboarding).post(seller::open_shop),
        ),
        page("/admin", AdminOrAnalyst, get(admin::dashboard)),
        page(
            "/admin/login",
            Anyone,
            get(auth::login_form).post(auth::login),
        ),
        page("/admin/users", Admin, get(admin_accounts::users)),
        page("/admin/users/{id}/ban", Admin, post(admin_accounts::ban)),
        page(
            "/admin/users/{id}/unban",
            Admin,
            post(admin_accounts::unban),
        ),
        page(
            "/admin/admins",
            Admin,
            get(admin_accounts::admins).post(admin_accounts::promote),
        ),
        page(
            "/admin/analysts",
            Admin,
            get(admin_accounts::analysts).post(admin_accounts::create_analyst),
        ),
        page("/admin/outbox", Admin, get(admin_accounts::outbox)),
        page("/admin/products", Admin, get(admin_catalog::products)),
        page(
            "/admin/products/{id}/hide",
            Admin,
            post(admin_catalog::hide),
        ),
        page(
            "/admin/products/{id}/show",
            Admin,
            post(admin_catalog::show),
        ),
        page(
            "/admin/site",
            Admin,
            get(admin_catalog::site)
                .post(admin_catalog::save_site)
                .layer(form_with_files()),
        ),
    ]
}

/// Lets a form that uploads images send a few at the size limit (other forms keep axum's 2 MB).
fn form_with_files() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(session::MAX_FORM_BYTES)
}

/// Every portal page plus `/static/*`.
pub fn router(app: AppState) -> Router {
    pages()
        .into_iter()
        .fold(Router::new(), |router, page| {
            router.route(page.path, page.handlers)
        })
        .route("/static/style.css", get(stylesheet))
        .route("/static/portal.js", get(script))
        .fallback(pages::not_found)
        .with_state(app)
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

async fn script() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}
