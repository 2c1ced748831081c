//! Read views: what the API shows, built from the in-memory state. Reads never touch the log or
//! the lakehouse.

use crate::media::{Variant, url as media_url};
use domain::{MediaId, Money, Product, Shop, SiteConfig, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Money in integer minor units, with a display string for people.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MoneyView {
    /// Minor units (cents).
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Formatted for display, e.g. `$19.99`.
    pub display: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        MoneyView {
            amount: m.amount,
            currency: m.currency.to_string(),
            display: m.display(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SubcategoryView {
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CategoryView {
    pub slug: String,
    pub name: String,
    pub subcategories: Vec<SubcategoryView>,
    /// Active products in this category.
    pub product_count: usize,
}

/// The site configuration: name, categories, logo and banner.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub name: String,
    pub categories: Vec<CategoryView>,
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
}

impl SiteView {
    pub fn build(state: &State, catalog: &CatalogSummary) -> SiteView {
        let SiteConfig {
            name,
            categories,
            logo,
            banner,
        } = &state.site;
        SiteView {
            name: name.clone(),
            categories: categories
                .iter()
                .map(|c| CategoryView {
                    slug: c.slug.clone(),
                    name: c.name.clone(),
                    subcategories: c
                        .subcategories
                        .iter()
                        .map(|s| SubcategoryView {
                            slug: s.slug.clone(),
                            name: s.name.clone(),
                        })
                        .collect(),
                    product_count: catalog.newest_in(&c.slug).len(),
                })
                .collect(),
            logo_url: logo.map(|id| media_url(id, Variant::Card)),
            banner_url: banner.map(|id| media_url(id, Variant::Zoom)),
        }
    }
}

/// Stars from reviews: the average (one decimal) and how many reviews.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RatingView {
    pub average: f32,
    pub count: u32,
}

impl RatingView {
    pub fn of(rating: Option<&domain::Rating>) -> Option<RatingView> {
        rating.filter(|r| r.count > 0).map(|r| RatingView {
            average: (r.average() * 10.0).round() / 10.0,
            count: r.count,
        })
    }

    /// Whole stars for display ("★★★★☆").
    pub fn stars(&self) -> String {
        let full = self.average.round().clamp(0.0, 5.0) as usize;
        format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShopView {
    pub id: uuid::Uuid,
    pub name: String,
    pub slug: String,
    pub bio: String,
    pub category: String,
    pub country: String,
    pub product_count: usize,
    pub followers: usize,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub avatar_url: Option<String>,
    pub banner_url: Option<String>,
    pub address: Option<String>,
    pub opening_hours: Option<String>,
    pub website: Option<String>,
    pub links: Vec<String>,
    /// When the seller asked to close the shop; it closes for good 28 days later unless restored.
    pub deletion_requested_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The average of the reviews of all its products.
    pub rating: Option<RatingView>,
    /// Orders it has received (cancelled ones not counted).
    pub orders: u64,
}

impl ShopView {
    pub fn build(state: &State, shop: &Shop) -> ShopView {
        ShopView {
            id: shop.id.0,
            name: shop.name.clone(),
            slug: shop.slug.clone(),
            bio: shop.bio.clone(),
            category: shop.category.clone(),
            country: shop.country.clone(),
            product_count: state
                .products_of(shop.id)
                .filter(|p| p.is_visible())
                .count(),
            followers: state.followers.get(&shop.id).map_or(0, |f| f.len()),
            created_at: shop.created_at,
            avatar_url: shop.profile.avatar.map(|id| media_url(id, Variant::Thumb)),
            banner_url: shop.profile.banner.map(|id| media_url(id, Variant::Zoom)),
            address: shop.profile.address.clone(),
            opening_hours: shop.profile.opening_hours.clone(),
            website: shop.profile.website.clone(),
            links: shop.profile.links.clone(),
            deletion_requested_at: shop.deletion_requested_at,
            rating: RatingView::of(state.shop_ratings.get(&shop.id)),
            orders: state.shop_sales.get(&shop.id).copied().unwrap_or(0),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShopRef {
    pub id: uuid::Uuid,
    pub name: String,
    pub slug: String,
}

/// A product as shoppers see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: uuid::Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub subcategory: Option<String>,
    /// The regular price.
    pub price: MoneyView,
    pub sale_price: Option<MoneyView>,
    /// What a shopper pays now.
    pub current_price: MoneyView,
    pub discount_percent: Option<u32>,
    pub stock: u32,
    pub in_stock: bool,
    /// The cover image's card variant.
    pub image_url: Option<String>,
    /// Every image, in order.
    pub images: Vec<ImageView>,
    pub shop: Option<ShopRef>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// One or two sentences; `description` is the full text as safe HTML.
    pub summary: Option<String>,
    pub brand: Option<String>,
    pub tags: Vec<String>,
    pub colors: Vec<String>,
    pub sizes: Vec<String>,
    pub specs: Vec<SpecView>,
    pub video_url: Option<String>,
    pub warranty: Option<String>,
    pub cash_on_delivery: bool,
    /// A timed offer's window.
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rating: Option<RatingView>,
    /// Units sold (orders that stand).
    pub sold: u64,
}

/// An uploaded image and the URLs of its variants.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImageView {
    pub id: uuid::Uuid,
    /// 160 × 160.
    pub thumb: String,
    /// 480 × 360.
    pub card: String,
    /// Up to 1600 on the longer side.
    pub zoom: String,
}

impl ImageView {
    pub fn of(id: MediaId) -> ImageView {
        ImageView {
            id: id.0,
            thumb: media_url(id, Variant::Thumb),
            card: media_url(id, Variant::Card),
            zoom: media_url(id, Variant::Zoom),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SpecView {
    pub name: String,
    pub value: String,
}

impl ProductView {
    pub fn build(state: &State, p: &Product) -> ProductView {
        ProductView {
            id: p.id.0,
            slug: p.slug.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            subcategory: p.subcategory.clone(),
            price: p.price.into(),
            sale_price: p.sale_price.map(Into::into),
            current_price: p.current_price().into(),
            discount_percent: p.discount_percent(),
            stock: p.stock,
            in_stock: p.stock > 0,
            image_url: p.images.first().map(|id| media_url(*id, Variant::Card)),
            images: p.images.iter().copied().map(ImageView::of).collect(),
            shop: state.shops.get(&p.shop_id).map(|s| ShopRef {
                id: s.id.0,
                name: s.name.clone(),
                slug: s.slug.clone(),
            }),
            created_at: p.created_at,
            summary: p.details.summary.clone(),
            brand: p.details.brand.clone(),
            tags: p.details.tags.clone(),
            colors: p.details.colors.clone(),
            sizes: p.details.sizes.clone(),
            specs: p
                .details
                .specs
                .iter()
                .map(|s| SpecView {
                    name: s.name.clone(),
                    value: s.value.clone(),
                })
                .collect(),
            video_url: p.details.video_url.clone(),
            warranty: p.details.warranty.clone(),
            cash_on_delivery: p.details.cash_on_delivery,
            starts_at: p.details.starts_at,
            ends_at: p.details.ends_at,
            rating: RatingView::of(state.ratings.get(&p.id)),
            sold: state.units_sold.get(&p.id).copied().unwrap_or(0),
        }
    }
}

/// What pages about the whole catalog show — how many products are visible, and each category's
/// visible products newest first — computed once per state (see `App::catalog`), not per request.
#[derive(Debug, Default)]
pub struct CatalogSummary {
    pub visible: usize,
    by_category: std::collections::HashMap<String, Vec<domain::ProductId>>,
    /// The visible products that sold the most units, best first (at most 8, none unsold).
    pub top_sellers: Vec<domain::ProductId>,
}

impl CatalogSummary {
    pub fn build(state: &State) -> CatalogSummary {
        let mut visible: Vec<&Product> =
            state.products.values().filter(|p| p.is_visible()).collect();
        visible.sort_by(newest_first);
        let mut by_category: std::collections::HashMap<String, Vec<domain::ProductId>> =
            Default::default();
        for p in &visible {
            by_category
                .entry(p.category.clone())
                .or_default()
                .push(p.id);
        }
        let sold = |p: &Product| state.units_sold.get(&p.id).copied().unwrap_or(0);
        let mut top: Vec<&&Product> = visible.iter().filter(|p| sold(p) > 0).collect();
        top.sort_by(|a, b| sold(b).cmp(&sold(a)).then_with(|| newest_first(a, b)));
        CatalogSummary {
            visible: visible.len(),
            top_sellers: top.iter().take(8).map(|p| p.id).collect(),
            by_category,
        }
    }

    /// A category's visible products, newest first.
    pub fn newest_in(&self, category: &str) -> &[domain::ProductId] {
        self.by_category.get(category).map_or(&[], Vec::as_slice)
    }
}

/// The order of "newest" lists: newest first, then by slug.
fn newest_first(a: &&Product, b: &&Product) -> std::cmp::Ordering {
    b.created_at.cmp(&a.created_at).then(a.slug.cmp(&b.slug))
}

/// One page of a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub per_page: usize,
    pub total: usize,
}

impl<T> Page<T> {
    /// Page `page` (from 1) of `items`, `per_page` (at most 100, default 20) at a time: every item
    /// is counted, only the page's are turned into views.
    pub fn of<I: Iterator>(
        items: I,
        page: Option<usize>,
        per_page: Option<usize>,
        mut view: impl FnMut(I::Item) -> T,
    ) -> Page<T> {
        let per_page = per_page.unwrap_or(20).clamp(1, 100);
        let page = page.unwrap_or(1).max(1);
        let first = (page - 1).saturating_mul(per_page);
        let mut total = 0;
        let mut out = Vec::new();
        for item in items {
            if total >= first && out.len() < per_page {
                out.push(view(item));
            }
            total += 1;
        }
        Page {
            items: out,
            page,
            per_page,
            total,
        }
    }

    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    /// Best matches first (the default with `q`; newest first without).
    Relevance,
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    /// Most units sold first.
    TopSales,
}

/// Filters for product lists. Prices are in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// Search words: every word must match the title, description, tags, brand or category,
    /// allowing a typo or two in longer words; the last word also matches as a prefix.
    pub q: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    /// Only this shop's products.
    pub shop: Option<uuid::Uuid>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Only products offered in this colour (case-insensitive).
    pub color: Option<String>,
    /// Only products offered in this size (case-insensitive).
    pub size: Option<String>,
    pub sort: Option<ProductSort>,
    /// 1-based page number.
    pub page: Option<usize>,
    /// Items per page, at most 100 (default 20).
    pub per_page: Option<usize>,
}

impl ProductFilter {
    fn matches(&self, p: &Product) -> bool {
        let price = p.current_price().amount;
        p.is_visible()
            && self.category.as_ref().is_none_or(|c| &p.category == c)
            && self
                .subcategory
                .as_ref()
                .is_none_or(|s| p.subcategory.as_ref() == Some(s))
            && self.shop.is_none_or(|s| p.shop_id.0 == s)
            && self.min_price.is_none_or(|min| price >= min)
            && self.max_price.is_none_or(|max| price <= max)
            && self
                .color
                .as_ref()
                .is_none_or(|c| p.details.colors.iter().any(|x| x.eq_ignore_ascii_case(c)))
            && self
                .size
                .as_ref()
                .is_none_or(|z| p.details.sizes.iter().any(|x| x.eq_ignore_ascii_case(z)))
    }

    /// The visible products that match, sorted and paged. With `q`, the candidates come from the
    /// search index, best first.
    pub fn apply(&self, state: &State, search: &crate::search::Search) -> Page<ProductView> {
        let matched = self.matched(state, search);
        self.page_of(state, matched)
    }

    /// Like [`apply`](Self::apply), with facet counts over every match (not just this page).
    pub fn listing(&self, state: &State, search: &crate::search::Search) -> ProductListing {
        let matched = self.matched(state, search);
        let facets = Facets::count(&matched);
        let Page {
            items,
            page,
            per_page,
            total,
        } = self.page_of(state, matched);
        ProductListing {
            items,
            page,
            per_page,
            total,
            facets,
        }
    }

    /// The timed offers among the matches that have not ended at `now`: those running (ending
    /// soonest first) and those still to start (starting soonest first).
    pub fn offers<'s>(
        &self,
        state: &'s State,
        search: &crate::search::Search,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Vec<&'s Product>, Vec<&'s Product>) {
        let (mut live, mut upcoming): (Vec<&Product>, Vec<&Product>) = self
            .matched(state, search)
            .into_iter()
            .filter(|p| p.details.ends_at.is_some_and(|end| end > now))
            .partition(|p| p.details.starts_at.is_some_and(|start| start <= now));
        upcoming.retain(|p| p.details.starts_at.is_some());
        live.sort_by_key(|p| p.details.ends_at);
        upcoming.sort_by_key(|p| p.details.starts_at);
        (live, upcoming)
    }

    fn matched<'s>(&self, state: &'s State, search: &crate::search::Search) -> Vec<&'s Product> {
        let query = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let mut matched: Vec<&Product> = match query {
            Some(q) => search
                .query(q, SEARCH_CANDIDATES)
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "search failed; answering with no results");
                    Vec::new()
                })
                .into_iter()
                .filter_map(|(id, _)| state.products.get(&id))
                .filter(|p| self.matches(p))
                .collect(),
            None => state
                .products
                .values()
                .filter(|p| self.matches(p))
                .collect(),
        };
        let sort = match (self.sort, query) {
            (Some(sort), _) => sort,
            (None, Some(_)) => ProductSort::Relevance,
            (None, None) => ProductSort::Newest,
        };
        match sort {
            // Search results arrive best first; without a query there is no relevance.
            ProductSort::Relevance if query.is_some() => {}
            ProductSort::Relevance | ProductSort::Newest => matched.sort_by(newest_first),
            ProductSort::PriceAsc => matched.sort_by(|a, b| {
                a.current_price()
                    .amount
                    .cmp(&b.current_price().amount)
                    .then(a.slug.cmp(&b.slug))
            }),
            ProductSort::TopSales => {
                let sold = |p: &Product| state.units_sold.get(&p.id).copied().unwrap_or(0);
                matched.sort_by(|a, b| sold(b).cmp(&sold(a)).then_with(|| newest_first(a, b)))
            }
            ProductSort::PriceDesc => matched.sort_by(|a, b| {
                b.current_price()
                    .amount
                    .cmp(&a.current_price().amount)
                    .then(a.slug.cmp(&b.slug))
            }),
        }
        matched
    }

    fn page_of(&self, state: &State, matched: Vec<&Product>) -> Page<ProductView> {
        let per_page = self.per_page.unwrap_or(20).clamp(1, 100);
        let page = self.page.unwrap_or(1).max(1);
        let total = matched.len();
        let items = matched
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|p| ProductView::build(state, p))
            .collect();
        Page {
            items,
            page,
            per_page,
            total,
        }
    }
}

/// How many matching products have each value, most first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: usize,
}

/// Counts over every product that matches a listing, for filters that show their numbers.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Facets {
    pub categories: Vec<FacetCount>,
    pub subcategories: Vec<FacetCount>,
    pub colors: Vec<FacetCount>,
    pub sizes: Vec<FacetCount>,
    /// The lowest and highest current price, in minor units.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
}

impl Facets {
    fn count(matched: &[&Product]) -> Facets {
        use std::borrow::Cow;
        // Counted on borrowed values (a colour is copied only when it is not lower-case already).
        let tally = |values: &mut dyn Iterator<Item = Cow<'_, str>>| {
            let mut counts: std::collections::HashMap<Cow<'_, str>, usize> = Default::default();
            for value in values {
                *counts.entry(value).or_default() += 1;
            }
            let mut counts: Vec<FacetCount> = counts
                .into_iter()
                .map(|(value, count)| FacetCount {
                    value: value.into_owned(),
                    count,
                })
                .collect();
            counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            counts
        };
        fn lower(c: &String) -> Cow<'_, str> {
            if c.chars().any(char::is_uppercase) {
                Cow::Owned(c.to_lowercase())
            } else {
                Cow::Borrowed(c.as_str())
            }
        }
        Facets {
            categories: tally(&mut matched.iter().map(|p| Cow::from(p.category.as_str()))),
            subcategories: tally(
                &mut matched
                    .iter()
                    .filter_map(|p| p.subcategory.as_deref().map(Cow::from)),
            ),
            colors: tally(
                &mut matched
                    .iter()
                    .flat_map(|p| p.details.colors.iter().map(lower)),
            ),
            sizes: tally(
                &mut matched
                    .iter()
                    .flat_map(|p| p.details.sizes.iter().map(|s| Cow::from(s.as_str()))),
            ),
            min_price: matched.iter().map(|p| p.current_price().amount).min(),
            max_price: matched.iter().map(|p| p.current_price().amount).max(),
        }
    }
}

/// A page of products with the facet counts of the whole match.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductListing {
    pub items: Vec<ProductView>,
    pub page: usize,
    pub per_page: usize,
    pub total: usize,
    pub facets: Facets,
}

/// How many search hits a listing considers before filters and paging.
const SEARCH_CANDIDATES: usize = 10_000;

/// A saved delivery address.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub id: uuid::Uuid,
    pub label: String,
    pub name: String,
    pub street: String,
    pub city: String,
    pub zip: String,
    pub country: String,
    pub is_default: bool,
}

impl From<&domain::Address> for AddressView {
    fn from(a: &domain::Address) -> Self {
        AddressView {
            id: a.id.0,
            label: a.label.clone(),
            name: a.name.clone(),
            street: a.street.clone(),
            city: a.city.clone(),
            zip: a.zip.clone(),
            country: a.country.clone(),
            is_default: a.is_default,
        }
    }
}

/// Why an account is banned.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BanView {
    pub reason: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An account as its owner and admins see it (never a credential).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    /// `shopper`, `seller`, `admin` or `analyst`.
    pub role: String,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub banned: Option<BanView>,
    /// A seller's shop, once opened.
    pub shop: Option<ShopView>,
    pub addresses: Vec<AddressView>,
}

impl AccountView {
    pub fn build(state: &State, account: &domain::Account) -> AccountView {
        AccountView {
            id: account.id.0,
            email: account.email.clone(),
            name: account.name.clone(),
            role: role_name(account.role).to_string(),
            phone: account.phone.clone(),
            country: account.country.clone(),
            created_at: account.created_at,
            banned: account.banned.as_ref().map(|b| BanView {
                reason: b.reason.clone(),
                at: b.at,
            }),
            shop: state.shop_of(account.id).map(|s| ShopView::build(state, s)),
            addresses: account.addresses.iter().map(AddressView::from).collect(),
        }
    }
}

pub fn role_name(role: domain::Role) -> &'static str {
    match role {
        domain::Role::Shopper => "shopper",
        domain::Role::Seller => "seller",
        domain::Role::Admin => "admin",
        domain::Role::Analyst => "analyst",
    }
}
