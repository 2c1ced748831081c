//! The cart (`/cart`) with its quantity and code forms, the add-to-cart form of product pages,
//! and the wishlist (`/wishlist`). Visitors who are not signed in have a cart too (their browser
//! session's); it joins their account's when they sign in.

use super::shop::Card;
use crate::chrome::Chrome;
use crate::session::{CsrfForm, Portal, Viewer, safe_next};
use api::orders::views::CartView;
use api::{AppState, ProductView, client_context};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use domain::{CartCommand, Command, ProductId, WishlistCommand};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template, WebTemplate)]
#[template(path = "cart.html")]
pub struct CartPage {
    chrome: Chrome,
    cart: CartView,
    error: Option<String>,
    /// Signed in as a shopper (checkout is one click away) rather than a visitor.
    signed_in: bool,
}

fn cart_page(app: &AppState, viewer: &Viewer, error: Option<String>) -> Response {
    let (_, owner) = match viewer.buyer() {
        Ok(buyer) => buyer,
        Err(why) => return super::refused_page(app, viewer, Portal::Shop, &why),
    };
    let page = CartPage {
        chrome: Chrome::with(&app.state(), "shop", viewer),
        cart: api::orders::cart_view(app, owner),
        signed_in: owner.account().is_some(),
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    (status, page).into_response()
}

/// `/cart`: lines by shop, quantities, codes and totals.
pub async fn show(State(app): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    let jar = viewer.visitor.remember(
        viewer.keep_csrf(jar, app.config.secure_cookies),
        app.config.secure_cookies,
    );
    (jar, cart_page(&app, &viewer, None)).into_response()
}

#[derive(Deserialize)]
pub struct ItemForm {
    /// As typed (forms send text); empty means one.
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    size: String,
    /// Where to go afterwards (the cart by default).
    #[serde(default)]
    next: String,
}

/// Adds a product to the cart or sets its quantity (0 removes it).
pub async fn set_item(
    State(app): State<AppState>,
    viewer: Viewer,
    api::ClientAddr(client): api::ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    Path(product): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<ItemForm>,
) -> Response {
    let (actor, _) = match viewer.buyer() {
        Ok(buyer) => buyer,
        Err(why) => return super::refused_page(&app, &viewer, Portal::Shop, &why),
    };
    if let Err(e) = api::orders::check_visitor_cart_write(&app, &actor, &client).await {
        return cart_page(&app, &viewer, Some(e.public_message()));
    }
    let quantity = match form.quantity.trim() {
        "" => 1,
        typed => match typed.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let why = format!("“{typed}” is not a quantity: type a whole number such as 2");
                return cart_page(&app, &viewer, Some(why));
            }
        },
    };
    let options: BTreeMap<String, String> = [("color", form.color), ("size", form.size)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let command = CartCommand::SetItem {
        product: ProductId(product),
        quantity,
        options,
        client: client_context(&headers),
    };
    let jar = viewer.visitor.remember(jar, app.config.secure_cookies);
    if let Err(e) = app.execute(actor, Command::Cart(command)).await {
        return (jar, cart_page(&app, &viewer, Some(e.public_message()))).into_response();
    }
    let next = if form.next.is_empty() {
        "/cart".to_string()
    } else {
        safe_next(&form.next, Portal::Shop)
    };
    (jar, Redirect::to(&next)).into_response()
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Applies a discount code.
pub async fn apply_code(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    code_change(&app, &viewer, CartCommand::ApplyCode { code: form.code }).await
}

/// Removes a discount code.
pub async fn remove_code(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    code_change(&app, &viewer, CartCommand::RemoveCode { code: form.code }).await
}

async fn code_change(app: &AppState, viewer: &Viewer, command: CartCommand) -> Response {
    let (actor, _) = match viewer.buyer() {
        Ok(buyer) => buyer,
        Err(why) => return super::refused_page(app, viewer, Portal::Shop, &why),
    };
    match app.execute(actor, Command::Cart(command)).await {
        Ok(_) => Redirect::to("/cart").into_response(),
        Err(e) => cart_page(app, viewer, Some(e.public_message())),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "wishlist.html")]
pub struct WishlistPage {
    chrome: Chrome,
    items: Vec<(uuid::Uuid, Card, bool)>,
}

/// `/wishlist`: the products a shopper saved, newest first.
pub async fn wishlist(State(app): State<AppState>, viewer: Viewer) -> Response {
    let principal = match viewer.require(&app, Portal::Shop, "/wishlist") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let state = app.state();
    let items = state
        .wishlists
        .get(&principal.account.id)
        .into_iter()
        .flat_map(|list| list.iter().rev())
        .filter_map(|id| state.products.get(id))
        .filter(|p| p.is_visible())
        .map(|p| {
            let in_stock = p.stock > 0;
            (p.id.0, Card::from(ProductView::build(&state, p)), in_stock)
        })
        .collect();
    WishlistPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        items,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct WishForm {
    /// `remove` takes the product off the list; anything else adds it.
    #[serde(default)]
    action: String,
    #[serde(default)]
    next: String,
}

/// Adds a product to the wishlist, or removes it.
pub async fn wish(
    State(app): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(product): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<WishForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Shop, "/wishlist") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let product = ProductId(product);
    let command = if form.action == "remove" {
        WishlistCommand::Remove { product }
    } else {
        WishlistCommand::Add {
            product,
            client: client_context(&headers),
        }
    };
    if let Err(e) = app
        .execute(principal.actor(), Command::Wishlist(command))
        .await
    {
        return super::not_found_page(&app, &viewer, "shop", e.public_message());
    }
    let next = if form.next.is_empty() {
        "/wishlist".to_string()
    } else {
        safe_next(&form.next, Portal::Shop)
    };
    Redirect::to(&next).into_response()
}
