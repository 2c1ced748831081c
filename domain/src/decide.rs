//! The one place where commands are accepted or refused.

use crate::Result;
use crate::activity::{ActivityDetails, ActivityKind};
use crate::actor::{Actor, Role};
use crate::catalog::{NewProduct, Product, ProductChanges, ProductDetails, RESTORE_WINDOW_HOURS};
use crate::command::{Command, Context};
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::ProductId;
use crate::media::check_images;
use crate::money::Money;
use crate::shop::{NewShop, Shop};
use crate::site::SiteConfig;
use crate::slug::slugify;
use crate::state::State;
use crate::validate::{country, long_text, non_empty, non_empty_slug};
use std::collections::HashSet;

const MAX_TITLE: usize = 200;
const MAX_QUERY: usize = 200;
const MAX_IMAGES: usize = 12;
const MAX_SPECS: usize = 40;

/// Decides what a command means in the current state: the events to record, or why not.
pub fn decide(state: &State, command: &Command, ctx: &Context) -> Result<Vec<Event>> {
    match command {
        Command::ConfigureSite(config) => configure_site(state, config, ctx),
        Command::CreateShop(shop) => create_shop(state, shop, ctx),
        Command::CreateProduct(product) => create_product(state, product, ctx),
        Command::UpdateProduct { id, changes } => {
            let product = state
                .products
                .get(id)
                .ok_or_else(|| DomainError::not_found("product", id))?;
            update_product(state, product, changes, ctx)
        }
        Command::DeleteProduct { id } => {
            let product = owned_product(state, *id, ctx)?;
            if product.deleted_at.is_some() {
                return Err(DomainError::Conflict(
                    "the product is deleted already".into(),
                ));
            }
            let mut after = product.clone();
            after.deleted_at = Some(ctx.at);
            after.updated_at = ctx.at;
            Ok(vec![Event::ProductDeleted {
                id: *id,
                at: ctx.at,
                after: Some(Box::new(after)),
            }])
        }
        Command::RestoreProduct { id } => {
            let product = owned_product(state, *id, ctx)?;
            if product.deleted_at.is_none() {
                return Err(DomainError::Conflict("the product is not deleted".into()));
            }
            if !product.restorable(ctx.at) {
                return Err(DomainError::Conflict(format!(
                    "the {RESTORE_WINDOW_HOURS}-hour restore window has passed"
                )));
            }
            let mut after = product.clone();
            after.deleted_at = None;
            after.updated_at = ctx.at;
            Ok(vec![Event::ProductRestored {
                id: *id,
                at: ctx.at,
                after: Some(Box::new(after)),
            }])
        }
        Command::PurgeProduct { id } => {
            if ctx.actor != Actor::System {
                return Err(DomainError::Forbidden(
                    "only the scheduled purge removes products".into(),
                ));
            }
            let product = state
                .products
                .get(id)
                .ok_or_else(|| DomainError::not_found("product", id))?;
            if product.deleted_at.is_none() || product.restorable(ctx.at) {
                return Err(DomainError::Conflict(
                    "only products deleted more than the restore window ago are purged".into(),
                ));
            }
            Ok(vec![Event::ProductPurged {
                id: *id,
                at: ctx.at,
            }])
        }
        Command::ModerateProduct { id, reason } => {
            if !ctx.actor.is_system_or_admin() {
                return Err(DomainError::Forbidden(
                    "only admins moderate products".into(),
                ));
            }
            let product = state
                .products
                .get(id)
                .ok_or_else(|| DomainError::not_found("product", id))?;
            let hidden = match reason {
                Some(reason) => {
                    non_empty("reason", reason, 500)?;
                    Some(crate::catalog::Hidden {
                        reason: reason.trim().to_string(),
                        at: ctx.at,
                    })
                }
                None if product.hidden.is_none() => {
                    return Err(DomainError::Conflict("the product is not hidden".into()));
                }
                None => None,
            };
            let mut after = product.clone();
            after.hidden = hidden;
            after.updated_at = ctx.at;
            Ok(vec![Event::ProductModerated {
                id: *id,
                at: ctx.at,
                after: Box::new(after),
            }])
        }
        Command::FollowShop { shop, follow } => {
            let Actor::Account {
                role: Role::Shopper,
                id: account,
            } = ctx.actor
            else {
                return Err(DomainError::Forbidden("only shoppers follow shops".into()));
            };
            if !state.shops.contains_key(shop) {
                return Err(DomainError::not_found("shop", shop));
            }
            let following = state
                .followers
                .get(shop)
                .is_some_and(|f| f.contains(&account));
            Ok(match (follow, following) {
                (true, false) => vec![Event::ShopFollowed {
                    shop: *shop,
                    account,
                    at: ctx.at,
                }],
                (false, true) => vec![Event::ShopUnfollowed {
                    shop: *shop,
                    account,
                    at: ctx.at,
                }],
                _ => Vec::new(),
            })
        }
        Command::CreateDiscountCode(code) => crate::discount::create(state, code, ctx),
        Command::DeleteDiscountCode { id } => crate::discount::delete(state, *id, ctx),
        Command::Account(command) => crate::account::decide(state, command, ctx),
        Command::Shop(command) => crate::shop::decide(state, command, ctx),
        Command::Media(command) => crate::media::decide(state, command, ctx),
        Command::Cart(command) => crate::cart::decide(state, command, ctx),
        Command::Wishlist(command) => crate::cart::decide_wishlist(state, command, ctx),
        Command::Checkout(command) => crate::checkout::decide(state, command, ctx),
        Command::Payment(command) => crate::checkout::decide_payment(state, command, ctx),
        Command::Order(command) => crate::order::decide(state, command, ctx),
        Command::Review(command) => crate::review::decide(state, command, ctx),
        Command::Settle(settlement) => crate::settlement::decide(state, settlement, ctx),
        Command::Notification(command) => crate::notification::decide(state, command, ctx),
        Command::Chat(command) => crate::chat::decide(state, command, ctx),
        Command::RecordActivity { kind, details } => {
            let details = activity(state, *kind, details, ctx)?;
            Ok(vec![Event::activity(*kind, details)])
        }
    }
}

fn configure_site(state: &State, config: &SiteConfig, ctx: &Context) -> Result<Vec<Event>> {
    if !ctx.actor.is_system_or_admin() {
        return Err(DomainError::Forbidden(
            "only admins configure the site".into(),
        ));
    }
    non_empty("name", &config.name, MAX_TITLE)?;
    for (field, image) in [("logo", config.logo), ("banner", config.banner)] {
        if let Some(id) = image
            && !state.media.get(&id).is_some_and(|m| m.shop_id.is_none())
        {
            return Err(DomainError::invalid(
                field,
                format!("image {id} is not one of the site's uploads"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for category in &config.categories {
        non_empty("categories", &category.name, MAX_TITLE)?;
        if category.slug != slugify(&category.slug) || category.slug.is_empty() {
            return Err(DomainError::invalid(
                "categories",
                format!(
                    "category slug '{}' must be lower-case words joined by dashes",
                    category.slug
                ),
            ));
        }
        if !seen.insert(category.slug.as_str()) {
            return Err(DomainError::invalid(
                "categories",
                format!("category '{}' appears twice", category.slug),
            ));
        }
        let mut subs = HashSet::new();
        for sub in &category.subcategories {
            if sub.slug.is_empty()
                || sub.slug != slugify(&sub.slug)
                || !subs.insert(sub.slug.as_str())
            {
                return Err(DomainError::invalid(
                    "categories",
                    format!(
                        "subcategory '{}' of '{}' is empty, not a slug, or repeated",
                        sub.slug, category.slug
                    ),
                ));
            }
        }
    }
    // A category (or subcategory) that products or shops use cannot disappear under them.
    let in_use: Vec<String> = state
        .products
        .values()
        .filter(|p| !config.has(&p.category, p.subcategory.as_deref()))
        .map(|p| match &p.subcategory {
            Some(sub) => format!("{}/{sub}", p.category),
            None => p.category.clone(),
        })
        .chain(
            state
                .shops
                .values()
                .filter(|s| !config.has(&s.category, None))
                .map(|s| s.category.clone()),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !in_use.is_empty() {
        return Err(DomainError::Conflict(format!(
            "products or shops still use {}; move them first",
            in_use.join(", ")
        )));
    }
    Ok(vec![Event::SiteConfigured(config.clone())])
}

fn create_shop(state: &State, shop: &NewShop, ctx: &Context) -> Result<Vec<Event>> {
    match ctx.actor {
        Actor::System => {}
        Actor::Account {
            role: Role::Seller,
            id,
        } if shop.owner == Some(id) => {
            if state.closed_shop_owners.contains(&id) {
                return Err(DomainError::Forbidden(
                    "your shop was closed for good; this account cannot open another".into(),
                ));
            }
            if state.shops.values().any(|s| s.owner == Some(id)) {
                return Err(DomainError::Conflict(
                    "a seller has one shop, and you have one already".into(),
                ));
            }
        }
        _ => {
            return Err(DomainError::Forbidden(
                "only sellers open shops, for themselves".into(),
            ));
        }
    }
    if state.shops.contains_key(&shop.id) {
        return Err(DomainError::Conflict(format!(
            "shop {} already exists",
            shop.id
        )));
    }
    non_empty("name", &shop.name, MAX_TITLE)?;
    long_text("bio", &shop.bio)?;
    if !state.site.has(&shop.category, None) {
        return Err(DomainError::invalid(
            "category",
            format!("unknown category '{}'", shop.category),
        ));
    }
    country("country", &shop.country)?;
    let base = non_empty_slug("name", &shop.name)?;
    let slug = unique_slug(&base, |s| state.shop_slugs.contains(s));
    Ok(vec![Event::ShopCreated(Shop {
        id: shop.id,
        owner: shop.owner,
        name: shop.name.trim().to_string(),
        slug,
        bio: shop.bio.clone(),
        category: shop.category.clone(),
        country: shop.country.clone(),
        created_at: ctx.at,
        profile: Default::default(),
        settings: Default::default(),
        deletion_requested_at: None,
        payout_account: None,
    })])
}

fn create_product(state: &State, new: &NewProduct, ctx: &Context) -> Result<Vec<Event>> {
    let shop = state
        .shops
        .get(&new.shop_id)
        .ok_or_else(|| DomainError::not_found("shop", new.shop_id))?;
    may_manage(shop, ctx)?;
    if state.products.contains_key(&new.id) {
        return Err(DomainError::Conflict(format!(
            "product {} already exists",
            new.id
        )));
    }
    non_empty("title", &new.title, MAX_TITLE)?;
    long_text("description", &new.description)?;
    if !state.site.has(&new.category, new.subcategory.as_deref()) {
        return Err(DomainError::invalid(
            "category",
            format!(
                "unknown category '{}' / subcategory '{}'",
                new.category,
                new.subcategory.as_deref().unwrap_or("-")
            ),
        ));
    }
    prices(new.price, new.sale_price)?;
    details(&new.details)?;
    check_images(state, new.shop_id, "images", &new.images, MAX_IMAGES)?;
    let base = non_empty_slug("title", &new.title)?;
    let slug = unique_slug(&base, |s| state.product_slugs.contains_key(s));
    Ok(vec![Event::ProductCreated(Product {
        id: new.id,
        shop_id: new.shop_id,
        slug,
        title: new.title.trim().to_string(),
        description: crate::rich_text::sanitize(&new.description),
        category: new.category.clone(),
        subcategory: new.subcategory.clone(),
        price: new.price,
        sale_price: new.sale_price,
        stock: new.stock,
        status: new.status,
        images: new.images.clone(),
        created_at: ctx.at,
        updated_at: ctx.at,
        details: new.details.clone(),
        deleted_at: None,
        hidden: None,
    })])
}

fn update_product(
    state: &State,
    product: &Product,
    changes: &ProductChanges,
    ctx: &Context,
) -> Result<Vec<Event>> {
    let shop = state
        .shops
        .get(&product.shop_id)
        .ok_or_else(|| DomainError::not_found("shop", product.shop_id))?;
    may_manage(shop, ctx)?;
    if product.deleted_at.is_some() {
        return Err(DomainError::Conflict(
            "the product is deleted; restore it before editing".into(),
        ));
    }
    if changes.is_empty() {
        return Err(DomainError::invalid("changes", "nothing to change"));
    }
    if let Some(title) = &changes.title {
        non_empty("title", title, MAX_TITLE)?;
    }
    if let Some(description) = &changes.description {
        long_text("description", description)?;
    }
    let category = changes.category.as_ref().unwrap_or(&product.category);
    let subcategory = match &changes.subcategory {
        Some(sub) => sub.as_deref(),
        None if changes.category.is_some() => None,
        None => product.subcategory.as_deref(),
    };
    if (changes.category.is_some() || changes.subcategory.is_some())
        && !state.site.has(category, subcategory)
    {
        return Err(DomainError::invalid(
            "category",
            format!(
                "unknown category '{category}' / subcategory '{}'",
                subcategory.unwrap_or("-")
            ),
        ));
    }
    if let Some(new_details) = &changes.details {
        details(new_details)?;
    }
    if let Some(images) = &changes.images {
        check_images(state, product.shop_id, "images", images, MAX_IMAGES)?;
    }
    let price = changes.price.unwrap_or(product.price);
    let sale_price = changes.sale_price.unwrap_or(product.sale_price);
    prices(price, sale_price)?;
    let mut changes = changes.clone();
    if changes.category.is_some() && changes.subcategory.is_none() {
        // A new category without a subcategory leaves none: the old one belongs to the old
        // category (this is what was checked above).
        changes.subcategory = Some(None);
    }
    if let Some(description) = &mut changes.description {
        *description = crate::rich_text::sanitize(description);
    }
    let mut after = product.clone();
    after.apply(&changes, ctx.at);
    Ok(vec![Event::ProductUpdated {
        id: product.id,
        changes,
        at: ctx.at,
        after: Some(Box::new(after)),
    }])
}

fn activity(
    state: &State,
    kind: ActivityKind,
    details: &ActivityDetails,
    _ctx: &Context,
) -> Result<ActivityDetails> {
    let mut details = details.clone();
    if kind.needs_product() {
        let id = details.product_id.ok_or_else(|| {
            DomainError::invalid("product_id", "this kind of activity is about a product")
        })?;
        let product = state
            .products
            .get(&id)
            .filter(|p| p.is_visible())
            .ok_or_else(|| DomainError::not_found("product", id))?;
        details.shop_id = Some(product.shop_id);
    } else if let Some(id) = details.product_id {
        return Err(DomainError::invalid(
            "product_id",
            format!("not expected here (got {id})"),
        ));
    }
    if let Some(shop) = details.shop_id
        && !state.shops.contains_key(&shop)
    {
        return Err(DomainError::not_found("shop", shop));
    }
    match details.query.as_deref().map(str::trim) {
        Some("") => return Err(DomainError::invalid("query", "must not be empty")),
        Some(q) if q.chars().count() > MAX_QUERY => {
            return Err(DomainError::invalid(
                "query",
                format!("at most {MAX_QUERY} characters"),
            ));
        }
        Some(q) => details.query = Some(q.to_string()),
        None => {}
    }
    if let Some(country) = &details.client.country {
        self::country("country", country)?;
    }
    match (kind.is_recommendation(), &details.recommendation) {
        (true, None) => {
            return Err(DomainError::invalid(
                "recommendation",
                "say where the recommendations were shown and by what",
            ));
        }
        (false, Some(_)) => {
            return Err(DomainError::invalid(
                "recommendation",
                "only recommendation activity has one",
            ));
        }
        (true, Some(r)) => {
            non_empty("recommendation.placement", &r.placement, 40)?;
            non_empty("recommendation.source", &r.source, 80)?;
            let shown = kind == ActivityKind::RecommendationShown;
            if shown && (r.products.is_empty() || r.products.len() > crate::activity::MAX_SHOWN) {
                return Err(DomainError::invalid(
                    "recommendation.products",
                    format!("between 1 and {} products", crate::activity::MAX_SHOWN),
                ));
            }
            if !shown && !r.products.is_empty() {
                return Err(DomainError::invalid(
                    "recommendation.products",
                    "a click is about its product_id only",
                ));
            }
        }
        (false, None) => {}
    }
    Ok(details)
}

/// A product of the actor's own shop. Another shop's product is "not found" to a seller: whether
/// it exists is none of their business.
fn owned_product<'s>(state: &'s State, id: ProductId, ctx: &Context) -> Result<&'s Product> {
    let product = state
        .products
        .get(&id)
        .ok_or_else(|| DomainError::not_found("product", id))?;
    let shop = state
        .shops
        .get(&product.shop_id)
        .ok_or_else(|| DomainError::not_found("shop", product.shop_id))?;
    may_manage(shop, ctx).map_err(|_| DomainError::not_found("product", id))?;
    Ok(product)
}

/// Checks a product's details: sizes of lists and words, and an offer's window.
fn details(details: &ProductDetails) -> Result<()> {
    for (field, text, max) in [
        ("brand", &details.brand, 100),
        ("summary", &details.summary, 300),
        ("warranty", &details.warranty, 200),
    ] {
        if let Some(text) = text {
            non_empty(field, text, max)?;
        }
    }
    if let Some(video) = &details.video_url {
        crate::shop::web_link(video).map_err(|_| {
            DomainError::invalid("video_url", format!("'{video}' is not a web address"))
        })?;
    }
    if details.specs.len() > MAX_SPECS {
        return Err(DomainError::invalid(
            "specs",
            format!("at most {MAX_SPECS}"),
        ));
    }
    for spec in &details.specs {
        non_empty("specs", &spec.name, 60)?;
        non_empty("specs", &spec.value, 300)?;
    }
    for (field, list, max) in [
        ("tags", &details.tags, 20),
        ("colors", &details.colors, 30),
        ("sizes", &details.sizes, 30),
    ] {
        if list.len() > max {
            return Err(DomainError::invalid(field, format!("at most {max}")));
        }
        for item in list {
            non_empty(field, item, 40)?;
        }
    }
    match (details.starts_at, details.ends_at) {
        (Some(start), Some(end)) if start >= end => {
            Err(DomainError::invalid("ends_at", "must be after starts_at"))
        }
        (Some(_), None) | (None, Some(_)) => Err(DomainError::invalid(
            "ends_at",
            "an offer needs both starts_at and ends_at",
        )),
        _ => Ok(()),
    }
}

pub(crate) fn may_manage(shop: &Shop, ctx: &Context) -> Result<()> {
    match ctx.actor {
        Actor::System => Ok(()),
        Actor::Account {
            role: Role::Seller,
            id,
        } if shop.owner == Some(id) => Ok(()),
        _ => Err(DomainError::Forbidden(
            "only the shop's seller manages its products".into(),
        )),
    }
}

fn prices(price: Money, sale_price: Option<Money>) -> Result<()> {
    if price.amount <= 0 {
        return Err(DomainError::invalid("price", "must be above zero"));
    }
    if price.amount > crate::money::MAX_AMOUNT {
        return Err(DomainError::invalid(
            "price",
            "is more than this marketplace sells anything for",
        ));
    }
    if let Some(sale) = sale_price {
        if sale.currency != price.currency {
            return Err(DomainError::invalid(
                "sale_price",
                "must be in the same currency as the price",
            ));
        }
        if sale.amount <= 0 || sale.amount > price.amount {
            return Err(DomainError::invalid(
                "sale_price",
                "must be above zero and at most the regular price",
            ));
        }
    }
    Ok(())
}

/// `base`, or `base-2`, `base-3`, … whichever is free first.
fn unique_slug(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .expect("an unbounded range always finds a free slug")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{ActivityKind, ClientContext};
    use crate::catalog::ProductStatus;
    use crate::ids::{AccountId, ProductId, SessionId, ShopId};
    use crate::money::Currency;
    use crate::site::{Category, Subcategory};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn ctx(actor: Actor) -> Context {
        Context {
            actor,
            at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
                .unwrap(),
        }
    }

    fn run(state: &mut State, command: Command, actor: Actor) -> Result<Vec<Event>> {
        let events = decide(state, &command, &ctx(actor))?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn seeded() -> State {
        let mut state = State::default();
        let site = SiteConfig {
            name: "Test".into(),
            categories: vec![Category {
                slug: "home".into(),
                name: "Home".into(),
                subcategories: vec![Subcategory {
                    slug: "kitchen".into(),
                    name: "Kitchen".into(),
                }],
            }],
            ..Default::default()
        };
        run(&mut state, Command::ConfigureSite(site), Actor::System).unwrap();
        run(
            &mut state,
            Command::CreateShop(new_shop(1, Some(AccountId(id(100))))),
            Actor::System,
        )
        .unwrap();
        state
    }

    fn new_shop(n: u128, owner: Option<AccountId>) -> NewShop {
        NewShop {
            id: ShopId(id(n)),
            owner,
            name: "Mugs & Co".into(),
            bio: String::new(),
            category: "home".into(),
            country: "DE".into(),
        }
    }

    fn new_product(n: u128, title: &str) -> NewProduct {
        NewProduct {
            id: ProductId(id(n)),
            shop_id: ShopId(id(1)),
            title: title.into(),
            description: "A mug".into(),
            category: "home".into(),
            subcategory: Some("kitchen".into()),
            price: Money::new(1999, Currency::USD),
            sale_price: None,
            stock: 5,
            status: ProductStatus::Active,
            images: Vec::new(),
            details: Default::default(),
        }
    }

    #[test]
    fn slugs_are_unique_and_derived_from_titles() {
        let mut state = seeded();
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Blue Mug")),
            Actor::System,
        )
        .unwrap();
        run(
            &mut state,
            Command::CreateProduct(new_product(11, "Blue  mug!")),
            Actor::System,
        )
        .unwrap();
        run(
            &mut state,
            Command::CreateProduct(new_product(12, "blue-mug")),
            Actor::System,
        )
        .unwrap();
        let slugs: Vec<_> = state.products.values().map(|p| p.slug.clone()).collect();
        assert_eq!(slugs, ["blue-mug", "blue-mug-2", "blue-mug-3"]);
        assert_eq!(
            state.product_by_slug("blue-mug-2").unwrap().id,
            ProductId(id(11))
        );
    }

    #[test]
    fn duplicate_ids_conflict_and_leave_state_alone() {
        let mut state = seeded();
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Mug")),
            Actor::System,
        )
        .unwrap();
        let err = run(
            &mut state,
            Command::CreateProduct(new_product(10, "Other")),
            Actor::System,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)));
        assert_eq!(state.products.len(), 1);
        let err = run(
            &mut state,
            Command::CreateShop(new_shop(1, None)),
            Actor::System,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)));
    }

    #[test]
    fn prices_and_categories_are_checked() {
        let mut state = seeded();
        let mut bad = new_product(10, "Mug");
        bad.sale_price = Some(Money::new(2500, Currency::USD));
        assert!(matches!(
            run(&mut state, Command::CreateProduct(bad), Actor::System),
            Err(DomainError::Invalid {
                field: "sale_price",
                ..
            })
        ));
        let mut bad = new_product(10, "Mug");
        bad.sale_price = Some(Money::new(1000, Currency::EUR));
        assert!(run(&mut state, Command::CreateProduct(bad), Actor::System).is_err());
        let mut bad = new_product(10, "Mug");
        bad.subcategory = Some("garden".into());
        assert!(matches!(
            run(&mut state, Command::CreateProduct(bad), Actor::System),
            Err(DomainError::Invalid {
                field: "category",
                ..
            })
        ));
        let mut bad = new_product(10, "Mug");
        bad.price = Money::new(0, Currency::USD);
        assert!(run(&mut state, Command::CreateProduct(bad), Actor::System).is_err());
        assert!(state.products.is_empty());
    }

    #[test]
    fn only_the_owner_or_the_system_manages_products() {
        let mut state = seeded();
        let owner = Actor::Account {
            role: Role::Seller,
            id: AccountId(id(100)),
        };
        let stranger = Actor::Account {
            role: Role::Seller,
            id: AccountId(id(101)),
        };
        let shopper = Actor::Anonymous {
            session: SessionId(id(5)),
        };
        assert!(matches!(
            run(
                &mut state,
                Command::CreateProduct(new_product(10, "Mug")),
                stranger
            ),
            Err(DomainError::Forbidden(_))
        ));
        assert!(
            run(
                &mut state,
                Command::CreateProduct(new_product(10, "Mug")),
                shopper
            )
            .is_err()
        );
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Mug")),
            owner,
        )
        .unwrap();
        let changes = ProductChanges {
            stock: Some(0),
            ..Default::default()
        };
        let update = Command::UpdateProduct {
            id: ProductId(id(10)),
            changes,
        };
        assert!(run(&mut state, update.clone(), stranger).is_err());
        run(&mut state, update, owner).unwrap();
        assert_eq!(state.products[&ProductId(id(10))].stock, 0);
    }

    #[test]
    fn updates_keep_the_sale_below_the_price() {
        let mut state = seeded();
        let mut product = new_product(10, "Mug");
        product.sale_price = Some(Money::new(1500, Currency::USD));
        run(&mut state, Command::CreateProduct(product), Actor::System).unwrap();
        let lower = ProductChanges {
            price: Some(Money::new(1000, Currency::USD)),
            ..Default::default()
        };
        let err = run(
            &mut state,
            Command::UpdateProduct {
                id: ProductId(id(10)),
                changes: lower,
            },
            Actor::System,
        );
        assert!(matches!(
            err,
            Err(DomainError::Invalid {
                field: "sale_price",
                ..
            })
        ));
        let end_sale = ProductChanges {
            price: Some(Money::new(1000, Currency::USD)),
            sale_price: Some(None),
            ..Default::default()
        };
        run(
            &mut state,
            Command::UpdateProduct {
                id: ProductId(id(10)),
                changes: end_sale,
            },
            Actor::System,
        )
        .unwrap();
        let p = &state.products[&ProductId(id(10))];
        assert_eq!((p.price.amount, p.sale_price), (1000, None));
        assert_eq!(p.current_price().amount, 1000);
    }

    #[test]
    fn activity_is_validated_and_enriched() {
        let mut state = seeded();
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Mug")),
            Actor::System,
        )
        .unwrap();
        let visitor = Actor::Anonymous {
            session: SessionId(id(7)),
        };
        let view = |product: u128| Command::RecordActivity {
            kind: ActivityKind::ProductView,
            details: ActivityDetails {
                product_id: Some(ProductId(id(product))),
                client: ClientContext {
                    country: Some("FR".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        let events = run(&mut state, view(10), visitor).unwrap();
        let (kind, details) = events[0].as_activity().unwrap();
        assert_eq!(kind, ActivityKind::ProductView);
        assert_eq!(
            details.shop_id,
            Some(ShopId(id(1))),
            "the product's shop is filled in"
        );
        assert!(matches!(
            run(&mut state, view(99), visitor),
            Err(DomainError::NotFound { .. })
        ));

        let search = |q: &str| Command::RecordActivity {
            kind: ActivityKind::Search,
            details: ActivityDetails {
                query: Some(q.into()),
                ..Default::default()
            },
        };
        assert!(run(&mut state, search("  "), visitor).is_err());
        let events = run(&mut state, search("  blue mug "), visitor).unwrap();
        assert_eq!(
            events[0].as_activity().unwrap().1.query.as_deref(),
            Some("blue mug")
        );
        let missing = Command::RecordActivity {
            kind: ActivityKind::AddToCart,
            details: ActivityDetails::default(),
        };
        assert!(matches!(
            run(&mut state, missing, visitor),
            Err(DomainError::Invalid {
                field: "product_id",
                ..
            })
        ));
    }

    #[test]
    fn draft_products_cannot_be_viewed() {
        let mut state = seeded();
        let mut draft = new_product(10, "Mug");
        draft.status = ProductStatus::Draft;
        run(&mut state, Command::CreateProduct(draft), Actor::System).unwrap();
        let view = Command::RecordActivity {
            kind: ActivityKind::ProductView,
            details: ActivityDetails {
                product_id: Some(ProductId(id(10))),
                ..Default::default()
            },
        };
        assert!(run(&mut state, view, Actor::System).is_err());
    }

    #[test]
    fn site_configuration_is_checked() {
        let mut state = State::default();
        let shopper = Actor::Anonymous {
            session: SessionId(id(1)),
        };
        assert!(
            run(
                &mut state,
                Command::ConfigureSite(SiteConfig::default()),
                shopper
            )
            .is_err()
        );
        let dup = SiteConfig {
            categories: vec![
                Category {
                    slug: "a".into(),
                    name: "A".into(),
                    subcategories: vec![],
                },
                Category {
                    slug: "a".into(),
                    name: "A again".into(),
                    subcategories: vec![],
                },
            ],
            ..Default::default()
        };
        assert!(run(&mut state, Command::ConfigureSite(dup), Actor::System).is_err());
        let bad_slug = SiteConfig {
            categories: vec![Category {
                slug: "Not A Slug".into(),
                name: "A".into(),
                subcategories: vec![],
            }],
            ..Default::default()
        };
        assert!(run(&mut state, Command::ConfigureSite(bad_slug), Actor::System).is_err());
    }

    #[test]
    fn a_seller_opens_one_shop_for_themselves() {
        let mut state = seeded();
        let seller = AccountId(id(200));
        let as_seller = Actor::Account {
            role: Role::Seller,
            id: seller,
        };
        assert!(
            run(
                &mut state,
                Command::CreateShop(new_shop(2, Some(AccountId(id(201))))),
                as_seller
            )
            .is_err()
        );
        run(
            &mut state,
            Command::CreateShop(new_shop(2, Some(seller))),
            as_seller,
        )
        .unwrap();
        assert!(matches!(
            run(
                &mut state,
                Command::CreateShop(new_shop(3, Some(seller))),
                as_seller
            ),
            Err(DomainError::Conflict(_))
        ));
        assert_eq!(state.shops[&ShopId(id(2))].slug, "mugs-co-2");
    }

    fn run_at(
        state: &mut State,
        command: Command,
        actor: Actor,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Event>> {
        let events = decide(state, &command, &Context { actor, at })?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    fn seller(n: u128) -> Actor {
        Actor::Account {
            role: Role::Seller,
            id: AccountId(id(n)),
        }
    }

    fn upload(n: u128, owner: u128, shop: u128) -> Command {
        Command::Media(crate::media::MediaCommand::Register(crate::media::Media {
            id: crate::ids::MediaId(id(n)),
            owner: AccountId(id(owner)),
            shop_id: Some(ShopId(id(shop))),
            width: 10,
            height: 10,
            stored_bytes: 100,
            uploaded_at: ctx(Actor::System).at,
        }))
    }

    #[test]
    fn images_belong_to_the_shop_that_uploaded_them() {
        let mut state = seeded();
        run(
            &mut state,
            Command::CreateShop(new_shop(2, Some(AccountId(id(200))))),
            Actor::System,
        )
        .unwrap();
        // A seller uploads only for their own shop.
        assert!(matches!(
            run(&mut state, upload(50, 200, 1), seller(200)),
            Err(DomainError::Forbidden(_))
        ));
        run(&mut state, upload(50, 100, 1), seller(100)).unwrap();
        let image = crate::ids::MediaId(id(50));
        let mut mug = new_product(10, "Mug");
        mug.images = vec![image];
        run(&mut state, Command::CreateProduct(mug), seller(100)).unwrap();
        // The other shop cannot put it on its products, nor delete it.
        let mut theirs = new_product(11, "Copy");
        theirs.shop_id = ShopId(id(2));
        theirs.images = vec![image];
        assert!(matches!(
            run(&mut state, Command::CreateProduct(theirs), seller(200)),
            Err(DomainError::Invalid {
                field: "images",
                ..
            })
        ));
        let delete = || Command::Media(crate::media::MediaCommand::Delete { id: image });
        assert!(matches!(
            run(&mut state, delete(), seller(200)),
            Err(DomainError::NotFound { .. })
        ));
        // In use: refused with what uses it; once removed from the product, deleted.
        match run(&mut state, delete(), seller(100)) {
            Err(DomainError::Conflict(why)) => assert!(why.contains("product 'Mug'"), "{why}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let changes = ProductChanges {
            images: Some(Vec::new()),
            ..Default::default()
        };
        run(
            &mut state,
            Command::UpdateProduct {
                id: ProductId(id(10)),
                changes,
            },
            seller(100),
        )
        .unwrap();
        run(&mut state, delete(), seller(100)).unwrap();
        assert!(state.media.is_empty());
    }

    #[test]
    fn a_shop_deletion_can_be_undone_for_28_days_then_the_purge_closes_it() {
        use crate::shop::ShopCommand;
        let mut state = seeded();
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Mug")),
            seller(100),
        )
        .unwrap();
        let shop = ShopId(id(1));
        let start = ctx(Actor::System).at;
        let day = |n: i64| start + chrono::Duration::days(n);
        run_at(
            &mut state,
            Command::Shop(ShopCommand::RequestDeletion { id: shop }),
            seller(100),
            start,
        )
        .unwrap();
        assert!(state.shops[&shop].deletion_requested_at.is_some());
        // Another seller cannot see, restore or purge it.
        assert!(matches!(
            run_at(
                &mut state,
                Command::Shop(ShopCommand::Restore { id: shop }),
                seller(200),
                day(1)
            ),
            Err(DomainError::NotFound { .. })
        ));
        run_at(
            &mut state,
            Command::Shop(ShopCommand::Restore { id: shop }),
            seller(100),
            day(27),
        )
        .unwrap();
        run_at(
            &mut state,
            Command::Shop(ShopCommand::RequestDeletion { id: shop }),
            seller(100),
            day(30),
        )
        .unwrap();
        let purge = || Command::Shop(ShopCommand::Purge { id: shop });
        assert!(matches!(
            run_at(&mut state, purge(), Actor::System, day(57)),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(
            run_at(&mut state, purge(), seller(100), day(58)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            run_at(
                &mut state,
                Command::Shop(ShopCommand::Restore { id: shop }),
                seller(100),
                day(58)
            ),
            Err(DomainError::Conflict(_))
        ));
        let events = run_at(&mut state, purge(), Actor::System, day(58)).unwrap();
        let kinds: Vec<_> = events.iter().map(Event::kind).collect();
        assert_eq!(
            kinds,
            ["product.deleted", "product.purged", "shop.purged"],
            "the product is deleted and purged, then the shop closes"
        );
        assert!(state.shops.is_empty() && state.products.is_empty());
        // The seller cannot open another shop.
        assert!(matches!(
            run_at(
                &mut state,
                Command::CreateShop(new_shop(3, Some(AccountId(id(100))))),
                seller(100),
                day(59)
            ),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn shop_profiles_take_only_web_links_and_own_images() {
        use crate::shop::{ShopChanges, ShopCommand, ShopProfile};
        let mut state = seeded();
        let update = |profile: ShopProfile| {
            Command::Shop(ShopCommand::Update {
                id: ShopId(id(1)),
                changes: ShopChanges {
                    profile: Some(profile),
                    ..Default::default()
                },
            })
        };
        for bad in [
            "javascript:alert(1)",
            "https://",
            "https://a b.com",
            "ftp://x.com",
        ] {
            let profile = ShopProfile {
                links: vec![bad.into()],
                ..Default::default()
            };
            assert!(
                matches!(
                    run(&mut state, update(profile), seller(100)),
                    Err(DomainError::Invalid { field: "links", .. })
                ),
                "{bad} accepted"
            );
        }
        let profile = ShopProfile {
            avatar: Some(crate::ids::MediaId(id(99))),
            ..Default::default()
        };
        assert!(matches!(
            run(&mut state, update(profile), seller(100)),
            Err(DomainError::Invalid {
                field: "avatar",
                ..
            })
        ));
        let profile = ShopProfile {
            website: Some("https://mugs.example".into()),
            opening_hours: Some("Mon-Fri 9-18".into()),
            ..Default::default()
        };
        run(&mut state, update(profile.clone()), seller(100)).unwrap();
        assert_eq!(state.shops[&ShopId(id(1))].profile, profile);
        assert!(matches!(
            run(&mut state, update(profile), seller(200)),
            Err(DomainError::NotFound { .. })
        ));
    }

    #[test]
    fn a_new_category_without_a_subcategory_drops_the_old_subcategory() {
        let mut state = seeded();
        let mut site = state.site.clone();
        site.categories.push(Category {
            slug: "books".into(),
            name: "Books".into(),
            subcategories: Vec::new(),
        });
        run(&mut state, Command::ConfigureSite(site), Actor::System).unwrap();
        run(
            &mut state,
            Command::CreateProduct(new_product(10, "Mug")),
            seller(100),
        )
        .unwrap();
        let changes = ProductChanges {
            category: Some("books".into()),
            ..Default::default()
        };
        let events = run(
            &mut state,
            Command::UpdateProduct {
                id: ProductId(id(10)),
                changes,
            },
            seller(100),
        )
        .unwrap();
        let product = &state.products[&ProductId(id(10))];
        assert_eq!(
            (product.category.as_str(), product.subcategory.as_deref()),
            ("books", None)
        );
        match &events[0] {
            Event::ProductUpdated {
                after: Some(after), ..
            } => assert_eq!(after.subcategory, None),
            other => panic!("expected product.updated, got {other:?}"),
        }
    }
}
