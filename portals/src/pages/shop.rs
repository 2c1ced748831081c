//! The shop portal: home (categories and products) and product pages.

use crate::chrome::{Chrome, hue, initials};
use crate::session::Viewer;
use api::{AppState, ProductFilter, ProductView, Visitor, client_context};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use domain::{ActivityDetails, ActivityKind, Actor, Command, ProductId};

/// A product tile.
pub struct Card {
    pub(crate) slug: String,
    pub(crate) title: String,
    pub(crate) price: String,
    pub(crate) regular_price: Option<String>,
    pub(crate) discount: Option<u32>,
    pub(crate) shop_name: String,
    pub(crate) image_url: Option<String>,
    pub(crate) hue: u16,
    pub(crate) initials: String,
    /// Appended to the product link: `?rec=…&src=…` on recommended cards, so opening one is
    /// recorded as a click on the recommendation.
    pub(crate) link_query: String,
}

impl From<ProductView> for Card {
    fn from(p: ProductView) -> Card {
        Card {
            hue: hue(&p.id),
            initials: initials(&p.title, 2),
            regular_price: p.sale_price.is_some().then(|| p.price.display.clone()),
            price: p.current_price.display,
            discount: p.discount_percent,
            shop_name: p.shop.map(|s| s.name).unwrap_or_default(),
            image_url: p.image_url,
            slug: p.slug,
            title: p.title,
            link_query: String::new(),
        }
    }
}

pub struct CategoryLink {
    slug: String,
    name: String,
    count: usize,
}

pub struct Section {
    slug: String,
    name: String,
    total: usize,
    cards: Vec<Card>,
}

pub struct Listing {
    heading: String,
    total: usize,
    page: usize,
    pages: usize,
    /// The listing's URL with its filters, ready for `page=` to be appended.
    base: String,
    cards: Vec<Card>,
}

#[derive(Template, WebTemplate)]
#[template(path = "shop_home.html")]
pub struct HomePage {
    chrome: Chrome,
    categories: Vec<CategoryLink>,
    current: Option<CategoryLink>,
    query: String,
    product_count: usize,
    shop_count: usize,
    sections: Vec<Section>,
    /// The best-selling products (none before the first order).
    top_sellers: Vec<Card>,
    /// "Recommended for you", or what is trending for a visitor the model does not know.
    recommended: Option<Recommendations>,
    listing: Option<Listing>,
}

/// A row of recommended products.
pub struct Recommendations {
    heading: String,
    note: String,
    cards: Vec<Card>,
}

/// Where recommendations are shown, as activity records it.
const HOME: &str = "home";
const SIMILAR: &str = "similar";

/// Asks the recommender, records what it shows (`recommendation_shown`) and builds the row; each
/// card links with its placement and source so a click is recorded on the product page.
async fn recommendations(
    app: &AppState,
    viewer: &Viewer,
    visitor: &Visitor,
    headers: &HeaderMap,
    placement: &str,
    similar_to: Option<&domain::Product>,
) -> Option<Recommendations> {
    let state = app.state();
    let client = client_context(headers);
    let ask = api::recommend::Ask {
        account: viewer.principal().map(|p| p.account.id),
        country: client.country.clone(),
        category: None,
        similar_to: similar_to.map(|p| p.id),
        limit: 4,
    };
    let recommended = app.recommender.recommend(&state, &ask);
    let shown = recommended.shown(placement, client)?;
    if let Err(e) = app.execute(actor_of(viewer, visitor), shown).await {
        tracing::warn!(error = %e, "could not record shown recommendations");
    }
    let source = recommended.source_label();
    let cards = recommended
        .products
        .iter()
        .filter_map(|id| state.products.get(id))
        .map(|p| Card {
            link_query: format!("?rec={placement}&src={source}"),
            ..Card::from(ProductView::build(&state, p))
        })
        .collect();
    let model = recommended.source == api::recommend::Source::Model;
    let (heading, note) = match (similar_to, model) {
        (None, true) => (
            "Recommended for you",
            "Picked for you from what you looked at and bought.",
        ),
        (None, false) => (
            "Trending now",
            "What shoppers near you are looking at this week.",
        ),
        (Some(_), true) => ("Similar items", "Shoppers who liked this also liked these."),
        (Some(_), false) => ("More like this", "Popular in the same category this week."),
    };
    Some(Recommendations {
        heading: heading.to_string(),
        note: note.to_string(),
        cards,
    })
}

/// `?rec=…&src=…` on a product link that came from a recommendation row.
#[derive(serde::Deserialize)]
pub struct FromRecommendation {
    rec: Option<String>,
    src: Option<String>,
}

/// `/`: the home page, or a filtered listing when a category, search or shop is given.
pub async fn home(
    State(app): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    headers: HeaderMap,
    filter: Result<Query<ProductFilter>, QueryRejection>,
) -> (CookieJar, HomePage) {
    // A hand-edited URL with a bad filter shows everything rather than an error page.
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let state = app.state();
    let catalog = app.catalog();
    let site = api::SiteView::build(&state, &catalog);
    let categories: Vec<CategoryLink> = site
        .categories
        .iter()
        .map(|c| CategoryLink {
            slug: c.slug.clone(),
            name: c.name.clone(),
            count: c.product_count,
        })
        .collect();
    let current = filter
        .category
        .as_ref()
        .and_then(|slug| categories.iter().find(|c| &c.slug == slug))
        .map(|c| CategoryLink {
            slug: c.slug.clone(),
            name: c.name.clone(),
            count: c.count,
        });
    let query = filter.q.clone().unwrap_or_default();
    // A search from the box records a `search` activity (on its first page, not while paging).
    let visitor = Visitor::from_cookies(&jar);
    if !query.trim().is_empty() && filter.page.unwrap_or(1) == 1 {
        let search = Command::RecordActivity {
            kind: ActivityKind::Search,
            details: ActivityDetails {
                query: Some(query.clone()),
                client: client_context(&headers),
                ..Default::default()
            },
        };
        if let Err(e) = app.execute(actor_of(&viewer, &visitor), search).await {
            tracing::warn!(error = %e, "could not record a search");
        }
    }
    let filtered = filter.category.is_some()
        || filter.sort.is_some()
        || !query.trim().is_empty()
        || filter.shop.is_some()
        || filter.page.is_some();
    let listing = filtered.then(|| {
        let page = ProductFilter {
            per_page: Some(24),
            ..filter.clone()
        }
        .apply(&state, &app.search);
        let shop_name = filter
            .shop
            .and_then(|id| state.shops.get(&domain::ShopId(id)))
            .map(|s| s.name.clone());
        let heading = match (&current, query.trim(), shop_name) {
            (_, q, _) if !q.is_empty() => format!("Results for “{q}”"),
            (None, _, None) if filter.sort == Some(api::ProductSort::TopSales) => {
                "Top sellers".to_string()
            }
            (_, _, Some(shop)) => shop,
            (Some(c), _, _) => c.name.clone(),
            (None, _, None) => "All products".to_string(),
        };
        let mut base = String::from("/?");
        for (key, value) in [
            ("category", filter.category.clone()),
            ("q", filter.q.clone()),
            ("shop", filter.shop.map(|s| s.to_string())),
            (
                "sort",
                filter.sort.and_then(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                }),
            ),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                base.push_str(&format!("{key}={}&", crate::session::encode(&value)));
            }
        }
        Listing {
            heading,
            total: page.total,
            page: page.page,
            pages: page.pages(),
            base,
            cards: page.items.into_iter().map(Card::from).collect(),
        }
    });
    let top_sellers: Vec<Card> = if filtered {
        Vec::new()
    } else {
        catalog
            .top_sellers
            .iter()
            .take(4)
            .filter_map(|id| state.products.get(id))
            .map(|p| Card::from(ProductView::build(&state, p)))
            .collect()
    };
    let sections = if filtered {
        Vec::new()
    } else {
        categories
            .iter()
            .filter_map(|c| {
                let newest = catalog.newest_in(&c.slug);
                (!newest.is_empty()).then(|| Section {
                    slug: c.slug.clone(),
                    name: c.name.clone(),
                    total: newest.len(),
                    cards: newest
                        .iter()
                        .take(4)
                        .filter_map(|id| state.products.get(id))
                        .map(|p| Card::from(ProductView::build(&state, p)))
                        .collect(),
                })
            })
            .collect()
    };
    let recommended = if filtered {
        None
    } else {
        recommendations(&app, &viewer, &visitor, &headers, HOME, None).await
    };
    let page = HomePage {
        recommended,
        chrome: Chrome::with(&state, "shop", &viewer),
        product_count: catalog.visible,
        shop_count: state.shops.len(),
        categories,
        current,
        query,
        sections,
        top_sellers,
        listing,
    };
    (visitor.remember(jar, app.config.secure_cookies), page)
}

/// Who did something on a page: the signed-in account, or the browser session.
pub(crate) fn actor_of(viewer: &Viewer, visitor: &Visitor) -> Actor {
    viewer.principal().map_or(
        Actor::Anonymous {
            session: visitor.session,
        },
        |p| p.actor(),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
pub struct ProductPage {
    chrome: Chrome,
    p: ProductView,
    category_name: String,
    hue: u16,
    initials: String,
    shop_initial: String,
    /// How many the viewer's cart holds already.
    in_cart: u32,
    in_wishlist: bool,
    /// Why the viewer cannot buy here (signed in as a seller, admin or analyst).
    cannot_buy: Option<String>,
    reviews: Vec<api::routes::products::ReviewView>,
    /// The viewer received it and has not reviewed it yet.
    can_review: bool,
    /// A refused review's reason, shown above the form.
    review_error: Option<String>,
    /// "Similar items" (or more of the category, before the model knows the product).
    similar: Option<Recommendations>,
}

/// `/products/{slug}`: the product page. Opening it records a `product_view`.
pub async fn product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    from: Result<Query<FromRecommendation>, QueryRejection>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Response {
    let state = app.state();
    let Some(product) = state.product_by_slug(&slug).filter(|p| p.is_visible()) else {
        return super::not_found_page(
            &app,
            &viewer,
            "shop",
            format!("There is no product called “{slug}”. It may have been removed."),
        );
    };
    let visitor = Visitor::from_cookies(&jar);
    let view = Command::RecordActivity {
        kind: ActivityKind::ProductView,
        details: ActivityDetails {
            product_id: Some(ProductId(product.id.0)),
            client: client_context(&headers),
            ..Default::default()
        },
    };
    // Signed-in people's views are theirs (the recommender learns from them); anyone else's
    // belong to the browser session. A lost page view must not cost the shopper the page:
    // record it, but render either way.
    if let Err(e) = app.execute(actor_of(&viewer, &visitor), view).await {
        tracing::warn!(product.slug = %slug, error = %e, "could not record a product view");
    }
    if let Ok(Query(FromRecommendation {
        rec: Some(placement),
        src: Some(source),
    })) = from
        && [HOME, SIMILAR].contains(&placement.as_str())
    {
        let click =
            api::recommend::click(product.id, &placement, &source, client_context(&headers));
        if let Err(e) = app.execute(actor_of(&viewer, &visitor), click).await {
            tracing::warn!(error = %e, "could not record a recommendation click");
        }
    }
    let mut page = product_page(&state, &viewer, product, None);
    page.similar = recommendations(&app, &viewer, &visitor, &headers, SIMILAR, Some(product)).await;
    (visitor.remember(jar, app.config.secure_cookies), page).into_response()
}

/// The product page for `viewer` (`review_error`: why their review was refused).
fn product_page(
    state: &domain::State,
    viewer: &Viewer,
    product: &domain::Product,
    review_error: Option<String>,
) -> ProductPage {
    let p = ProductView::build(state, product);
    let (in_cart, cannot_buy) = match viewer.buyer() {
        Ok((_, owner)) => (
            state
                .carts
                .get(&owner)
                .map_or(0, |c| c.quantity_of(product.id)),
            None,
        ),
        Err(why) => (0, Some(why)),
    };
    let in_wishlist = viewer.principal().is_some_and(|me| {
        state
            .wishlists
            .get(&me.account.id)
            .is_some_and(|l| l.contains(&product.id))
    });
    let can_review = viewer.principal().is_some_and(|me| {
        domain::review_entitlement(state, me.account.id, product.id).is_some()
            && !state
                .reviews_of(product.id)
                .any(|r| r.author == me.account.id)
    });
    ProductPage {
        reviews: state
            .reviews_of(product.id)
            .take(20)
            .map(|r| api::routes::products::ReviewView::build(state, r))
            .collect(),
        can_review,
        review_error,
        similar: None,
        in_cart,
        in_wishlist,
        cannot_buy,
        chrome: Chrome::with(state, "shop", viewer),
        category_name: state
            .site
            .category(&p.category)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| p.category.clone()),
        hue: hue(&p.id),
        initials: initials(&p.title, 2),
        shop_initial: p
            .shop
            .as_ref()
            .map(|s| initials(&s.name, 1))
            .unwrap_or_default(),
        p,
    }
}

#[derive(serde::Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    text: String,
}

/// Posts a review from the product page.
pub async fn review(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    crate::session::CsrfForm(form): crate::session::CsrfForm<ReviewForm>,
) -> Response {
    let here = format!("/products/{slug}");
    let principal = match viewer.require(&app, crate::session::Portal::Shop, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(product) = app
        .state()
        .product_by_slug(&slug)
        .filter(|p| p.is_visible())
        .map(|p| p.id)
    else {
        return super::not_found_page(
            &app,
            &viewer,
            "shop",
            format!("There is no product called “{slug}”."),
        );
    };
    let command = Command::Review(domain::ReviewCommand::Post {
        id: domain::ReviewId(uuid::Uuid::now_v7()),
        product,
        rating: form.rating.trim().parse().unwrap_or(0),
        text: form.text,
    });
    match app.execute(principal.actor(), command).await {
        Ok(_) => axum::response::Redirect::to(&format!("{here}#reviews")).into_response(),
        Err(e) => {
            let state = app.state();
            let Some(found) = state.products.get(&product) else {
                return super::not_found_page(&app, &viewer, "shop", "The product is gone.");
            };
            let page = product_page(&state, &viewer, found, Some(e.public_message()));
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
        }
    }
}
