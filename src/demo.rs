//! Demo data: plausible shops, products and two weeks of visitor activity, written through the
//! same command path as real traffic. Deterministic (seeded), so running it twice changes nothing.

use anyhow::Context as _;
use chrono::{Duration, Utc};
use domain::{
    AccountId, ActivityDetails, ActivityKind, Actor, Category, ChatCommand, ClientContext, Command,
    ConversationId, Currency, Device, Discount, DiscountCode, DiscountCodeId, MessageId, Money,
    NewProduct, NewShop, ProductDetails, ProductId, ProductStatus, Role, SessionId, ShopId,
    SiteConfig, Subcategory,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

#[derive(clap::Args, Clone, Debug)]
pub struct DemoOptions {
    /// How many shops to open.
    #[arg(long, default_value_t = 12)]
    pub shops: usize,
    /// Products per shop.
    #[arg(long, default_value_t = 10)]
    pub products_per_shop: usize,
    /// Visitor activity events spread over the last two weeks.
    #[arg(long, default_value_t = 6000)]
    pub activity: usize,
    /// The random seed; the same seed gives the same marketplace.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Make product pictures (three per shop, stored like uploads).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pictures: bool,
    /// Paid checkouts spread over the last two weeks (by demo shoppers, some with a code; older
    /// orders shipped or delivered, some reviewed).
    #[arg(long, default_value_t = 150)]
    pub orders: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            shops: 12,
            products_per_shop: 10,
            activity: 6000,
            seed: 42,
            pictures: true,
            orders: 150,
        }
    }
}

/// (category slug, name, [(subcategory slug, name, nouns, price range in cents)])
type Catalog = [(
    &'static str,
    &'static str,
    &'static [(
        &'static str,
        &'static str,
        &'static [&'static str],
        (i64, i64),
    )],
)];

const CATALOG: &Catalog = &[
    (
        "home-kitchen",
        "Home & Kitchen",
        &[
            (
                "kitchen",
                "Kitchen",
                &[
                    "Chef's Knife",
                    "Cast Iron Skillet",
                    "Ceramic Mug",
                    "Cutting Board",
                    "Pour-Over Kettle",
                    "Salad Bowl",
                ],
                (1200, 14900),
            ),
            (
                "decor",
                "Decor",
                &[
                    "Linen Cushion",
                    "Table Lamp",
                    "Wall Clock",
                    "Scented Candle",
                    "Woven Basket",
                ],
                (1500, 8900),
            ),
        ],
    ),
    (
        "fashion",
        "Fashion",
        &[
            (
                "women",
                "Women",
                &["Wrap Dress", "Wool Cardigan", "Silk Scarf", "Denim Jacket"],
                (2500, 18900),
            ),
            (
                "men",
                "Men",
                &[
                    "Oxford Shirt",
                    "Chino Trousers",
                    "Merino Sweater",
                    "Rain Jacket",
                ],
                (2900, 21900),
            ),
            (
                "accessories",
                "Accessories",
                &["Leather Belt", "Canvas Tote", "Beanie", "Card Wallet"],
                (1200, 7900),
            ),
        ],
    ),
    (
        "electronics",
        "Electronics",
        &[
            (
                "audio",
                "Audio",
                &[
                    "Wireless Earbuds",
                    "Bookshelf Speaker",
                    "Over-Ear Headphones",
                ],
                (3900, 34900),
            ),
            (
                "accessories-tech",
                "Tech Accessories",
                &[
                    "USB-C Charger",
                    "Phone Stand",
                    "Laptop Sleeve",
                    "Power Bank",
                ],
                (1500, 6900),
            ),
        ],
    ),
    (
        "beauty",
        "Beauty",
        &[(
            "skincare",
            "Skincare",
            &["Face Serum", "Day Cream", "Cleansing Balm", "Lip Balm"],
            (900, 5900),
        )],
    ),
    (
        "sports",
        "Sports & Outdoors",
        &[
            (
                "fitness",
                "Fitness",
                &["Yoga Mat", "Kettlebell", "Jump Rope", "Resistance Bands"],
                (1500, 8900),
            ),
            (
                "camping",
                "Camping",
                &[
                    "Trail Backpack",
                    "Camping Lantern",
                    "Insulated Bottle",
                    "Sleeping Bag",
                ],
                (1900, 19900),
            ),
        ],
    ),
    (
        "books",
        "Books",
        &[
            (
                "fiction",
                "Fiction",
                &["Novel", "Short Stories", "Poetry Collection"],
                (900, 2900),
            ),
            (
                "non-fiction",
                "Non-fiction",
                &["Cookbook", "Field Guide", "Travel Journal"],
                (1200, 4500),
            ),
        ],
    ),
];

const ADJECTIVES: &[&str] = &[
    "Classic", "Handmade", "Everyday", "Organic", "Vintage", "Minimal", "Nordic", "Recycled",
    "Premium", "Compact", "Artisan", "Heritage",
];
/// The demo's colours, with the RGB its product pictures are drawn in.
const COLOURS: &[(&str, [u8; 3])] = &[
    ("Sage", [156, 175, 136]),
    ("Charcoal", [54, 69, 79]),
    ("Sand", [194, 178, 128]),
    ("Ocean Blue", [0, 119, 190]),
    ("Terracotta", [204, 78, 52]),
    ("Ivory", [240, 234, 214]),
    ("Forest", [34, 85, 51]),
    ("Plum", [142, 69, 133]),
];

/// A product picture for the demo: the product's colour as a rounded object on a soft studio
/// background, with a shadow. `shape` varies the object so a shop's pictures differ.
fn demo_picture(colour: usize, shape: usize) -> bytes::Bytes {
    let [r, g, b] = COLOURS[colour].1;
    let (width, height) = (640u32, 480u32);
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0 - 10.0);
    let (rx, ry) = match shape % 3 {
        0 => (120.0, 120.0),
        1 => (170.0, 95.0),
        _ => (95.0, 150.0),
    };
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let light = 245.0 - 25.0 * (y / height as f32);
        let mut px = [light, light - 2.0, light - 6.0];
        // The shadow under the object.
        let sd = ((x - cx) / (rx * 1.1)).powi(2) + ((y - (cy + ry + 18.0)) / 16.0).powi(2);
        if sd < 1.0 {
            px = px.map(|c| c * (0.8 + 0.2 * sd));
        }
        // The object, lit from the top left.
        let d = ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2);
        if d < 1.0 {
            let shade =
                1.15 - 0.35 * ((x - cx + rx) / (2.0 * rx) + (y - cy + ry) / (2.0 * ry)) / 2.0;
            px = [r, g, b].map(|c| (c as f32 * shade).min(255.0));
        }
        image::Rgb(px.map(|c| c.clamp(0.0, 255.0) as u8))
    });
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    bytes::Bytes::from(png)
}
const SHOP_WORDS: &[&str] = &[
    "Oak & Ember",
    "Northwind",
    "Little Harbor",
    "Juniper Lane",
    "Copper Fox",
    "Bright Meadow",
    "Stone & Thread",
    "Blue Finch",
    "Paper Crane",
    "Golden Hour",
    "Wild Fern",
    "Tidewater",
    "Maple Row",
    "Silver Birch",
    "Red Kite",
    "Morning Dew",
];
const COUNTRIES: &[(&str, &[&str])] = &[
    ("US", &["New York", "Austin", "Seattle"]),
    ("DE", &["Berlin", "Munich", "Hamburg"]),
    ("FR", &["Paris", "Lyon"]),
    ("GB", &["London", "Manchester"]),
    ("ES", &["Madrid", "Barcelona"]),
    ("IT", &["Milan", "Rome"]),
    ("NL", &["Amsterdam"]),
    ("SE", &["Stockholm"]),
];

/// Where a demo shop is based, for its bio: its country's first city.
fn home_town(country: usize) -> &'static str {
    COUNTRIES[country % COUNTRIES.len()].1[0]
}

fn uuid(rng: &mut StdRng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn site() -> SiteConfig {
    SiteConfig {
        name: "Harbor Market".into(),
        categories: CATALOG
            .iter()
            .map(|(slug, name, subs)| Category {
                slug: slug.to_string(),
                name: name.to_string(),
                subcategories: subs
                    .iter()
                    .map(|(s, n, _, _)| Subcategory {
                        slug: s.to_string(),
                        name: n.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        logo: None,
        banner: None,
    }
}

/// Seeds the catalog and the activity, unless this seed's first shop already exists.
pub async fn seed(app: &api::AppState, options: &DemoOptions) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let first_shop = ShopId(uuid(&mut StdRng::seed_from_u64(options.seed)));
    if app.state().shops.contains_key(&first_shop) {
        eprintln!(
            "Demo data for seed {} is already there; nothing to add.",
            options.seed
        );
        return Ok(());
    }
    let now = Utc::now();
    let history_start = now - Duration::days(14);
    let bar = ProgressBar::new(
        (options.shops * (1 + options.products_per_shop) + options.activity) as u64 + 1,
    )
    .with_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:40.cyan/blue}] {pos}/{len} events ({per_sec}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("catalog");
    if app.state().site.categories.is_empty() {
        app.execute_at(
            Actor::System,
            Command::ConfigureSite(site()),
            history_start - Duration::days(30),
        )
        .await
        .context("configuring the site")?;
    }
    bar.inc(1);

    let mut products: Vec<(ProductId, ShopId)> = Vec::new();
    for i in 0..options.shops {
        let shop_id = ShopId(uuid(&mut rng));
        let (category, category_name, subs) = CATALOG[i % CATALOG.len()];
        let (country, _) = COUNTRIES[i % COUNTRIES.len()];
        let name = SHOP_WORDS[i % SHOP_WORDS.len()].to_string()
            + if i >= SHOP_WORDS.len() { " II" } else { "" };
        let opened = history_start - Duration::days(rng.random_range(1..30));
        let seller = demo_account(
            app,
            &format!("seller{}@{DEMO_DOMAIN}", i + 1),
            &format!("{} Seller", SHOP_WORDS[i % SHOP_WORDS.len()]),
            Role::Seller,
            opened - Duration::days(1),
        )
        .await?;
        let shop = NewShop {
            id: shop_id,
            owner: Some(seller),
            bio: format!(
                "{name} is an independent {} shop based in {}. Small batches, shipped with care.",
                category_name.to_lowercase(),
                home_town(i)
            ),
            name,
            category: category.to_string(),
            country: country.to_string(),
        };
        app.execute_at(Actor::System, Command::CreateShop(shop), opened)
            .await
            .context("opening a demo shop")?;
        bar.inc(1);
        // Three colours per shop, each with a picture the shop uploads like a seller would.
        let shop_colours: Vec<usize> = (0..3).map(|_| rng.random_range(0..COLOURS.len())).collect();
        let mut pictures = Vec::new();
        if options.pictures {
            for (shape, colour) in shop_colours.iter().enumerate() {
                let owner = api::media::UploadOwner {
                    actor: Actor::System,
                    account: seller,
                    shop: Some(shop_id),
                };
                let media = api::media::upload(app, owner, demo_picture(*colour, shape))
                    .await
                    .map_err(|e| anyhow::anyhow!("storing a demo picture: {e}"))?;
                pictures.push(media.id);
            }
        }
        let mut listings = Vec::with_capacity(options.products_per_shop);
        for _ in 0..options.products_per_shop {
            let (sub, _, nouns, (low, high)) = *subs
                .choose(&mut rng)
                .expect("every category has subcategories");
            let noun = nouns.choose(&mut rng).expect("nouns");
            let picture = rng.random_range(0..shop_colours.len());
            let colour = COLOURS[shop_colours[picture]].0;
            let title = format!(
                "{} {} {}",
                ADJECTIVES.choose(&mut rng).expect("adjectives"),
                colour,
                noun
            );
            // Every seventh product is a timed offer: most running now, some starting soon.
            let offer = rng.random_ratio(1, 7).then(|| {
                if rng.random_bool(0.7) {
                    (
                        now - Duration::hours(rng.random_range(1..48)),
                        now + Duration::hours(rng.random_range(6..96)),
                    )
                } else {
                    let starts = now + Duration::hours(rng.random_range(2..72));
                    (starts, starts + Duration::hours(rng.random_range(24..96)))
                }
            });
            // Prices end in 99 cents, like real ones.
            let price = (rng.random_range(low..=high) / 100) * 100 + 99;
            let on_sale = rng.random_bool(0.25);
            let id = ProductId(uuid(&mut rng));
            let product = NewProduct {
                id,
                shop_id,
                description: format!(
                    "Our {} — from the {} range, made to last and chosen by {}.",
                    title.to_lowercase(),
                    sub.replace('-', " "),
                    SHOP_WORDS[i % SHOP_WORDS.len()]
                ),
                title,
                category: category.to_string(),
                subcategory: Some(sub.to_string()),
                price: Money::new(price, Currency::USD),
                sale_price: on_sale
                    .then(|| {
                        Money::new(
                            (price * rng.random_range(60..90) / 100 / 100) * 100 + 99,
                            Currency::USD,
                        )
                    })
                    .filter(|s| s.amount < price),
                stock: if rng.random_bool(0.1) {
                    rng.random_range(0..4)
                } else {
                    rng.random_range(5..120)
                },
                status: ProductStatus::Active,
                images: pictures.get(picture).copied().into_iter().collect(),
                details: ProductDetails {
                    summary: Some(format!(
                        "{} {} from {}.",
                        colour,
                        noun.to_lowercase(),
                        SHOP_WORDS[i % SHOP_WORDS.len()]
                    )),
                    brand: Some(SHOP_WORDS[i % SHOP_WORDS.len()].to_string()),
                    tags: vec![sub.replace('-', " "), noun.to_lowercase()],
                    colors: vec![colour.to_lowercase()],
                    specs: vec![domain::Spec {
                        name: "Colour".into(),
                        value: colour.to_string(),
                    }],
                    warranty: rng.random_bool(0.5).then(|| "2 years".to_string()),
                    cash_on_delivery: rng.random_bool(0.3),
                    starts_at: offer.map(|(starts, _)| starts),
                    ends_at: offer.map(|(_, ends)| ends),
                    ..Default::default()
                },
            };
            let listed = opened + Duration::hours(rng.random_range(1..24 * 10));
            listings.push(app.execute_at(
                Actor::System,
                Command::CreateProduct(product),
                listed.min(now),
            ));
            products.push((id, shop_id));
        }
        // A shop's products go in together: the command path writes them in a few batches.
        for listed in futures::future::join_all(listings).await {
            listed.context("listing a demo product")?;
            bar.inc(1);
        }
        let code = DiscountCode {
            id: DiscountCodeId(uuid(&mut rng)),
            shop_id,
            code: format!("SAVE10-{}", i + 1),
            public_name: "10% off the whole shop".into(),
            discount: Discount::Percent { percent: 10 },
            starts_at: None,
            ends_at: None,
            max_uses: Some(500),
            product_ids: Vec::new(),
            created_at: now,
        };
        app.execute_at(Actor::System, Command::CreateDiscountCode(code), opened)
            .await
            .context("creating a demo discount code")?;
    }

    bar.set_message("activity");
    // Some products are far more popular than others, as in every real shop; which ones is random.
    products.shuffle(&mut rng);
    let popularity: Vec<f64> = (0..products.len())
        .map(|i| 1.0 / (1.0 + i as f64).powf(0.8))
        .collect();
    // Tastes differ: each visitor has two favourite shops and finds most of what they look at
    // there (what a recommender can learn, and popularity cannot).
    let mut shops_of_products: Vec<ShopId> = products.iter().map(|(_, shop)| *shop).collect();
    shops_of_products.sort();
    shops_of_products.dedup();
    let visitors: Vec<(SessionId, Device, usize, [ShopId; 2])> = (0..(options.activity / 12)
        .max(1))
        .map(|_| {
            let device = *[
                Device::Mobile,
                Device::Mobile,
                Device::Desktop,
                Device::Desktop,
                Device::Tablet,
            ]
            .choose(&mut rng)
            .expect("devices");
            let favourites = [
                *shops_of_products.choose(&mut rng).expect("shops"),
                *shops_of_products.choose(&mut rng).expect("shops"),
            ];
            (
                SessionId(uuid(&mut rng)),
                device,
                rng.random_range(0..COUNTRIES.len()),
                favourites,
            )
        })
        .collect();
    let mut commands = Vec::with_capacity(options.activity);
    // Visits as people make them: one to a dozen things, a quarter of a minute to four minutes
    // apart (about one visit in five is a single page).
    let (mut visitor, mut at, mut left) = (visitors[0], history_start, 0usize);
    for _ in 0..options.activity {
        if left == 0 {
            visitor = *visitors.choose(&mut rng).expect("visitors");
            at = history_start + Duration::seconds(rng.random_range(0..14 * 24 * 3600));
            left = 1 + (-(1.0 - rng.random::<f64>()).ln() * 5.0) as usize;
        } else {
            at += Duration::seconds(rng.random_range(15..240));
        }
        left -= 1;
        let (session, device, country, favourites) = visitor;
        let (country, cities) = COUNTRIES[country];
        let client = ClientContext {
            device,
            country: Some(country.to_string()),
            city: cities.choose(&mut rng).map(|c| c.to_string()),
        };
        // Two picks in three from a favourite shop, the rest by popularity alone.
        let favourite = (rng.random::<f64>() < 0.67).then(|| favourites[rng.random_range(0..2)]);
        let weight = |i: usize| match favourite {
            Some(shop) if products[i].1 != shop => 0.0,
            _ => popularity[i],
        };
        let mut pick = rng.random::<f64>() * (0..products.len()).map(weight).sum::<f64>();
        let index = (0..products.len())
            .position(|i| {
                pick -= weight(i);
                pick <= 0.0
            })
            .unwrap_or(0);
        let (product, shop) = products[index];
        let roll = rng.random::<f64>();
        let (kind, details) = match roll {
            r if r < 0.66 => (
                ActivityKind::ProductView,
                ActivityDetails {
                    product_id: Some(product),
                    client,
                    ..Default::default()
                },
            ),
            // A row of recommendations on the home page (what trended), sometimes clicked.
            r if r < 0.70 => (
                ActivityKind::RecommendationShown,
                ActivityDetails {
                    recommendation: Some(domain::RecommendationContext {
                        placement: "home".into(),
                        source: "trending".into(),
                        products: products.iter().take(4).map(|(p, _)| *p).collect(),
                    }),
                    client,
                    ..Default::default()
                },
            ),
            r if r < 0.72 => (
                ActivityKind::RecommendationClick,
                ActivityDetails {
                    product_id: Some(products[index % products.len().min(4)].0),
                    recommendation: Some(domain::RecommendationContext {
                        placement: "home".into(),
                        source: "trending".into(),
                        products: Vec::new(),
                    }),
                    client,
                    ..Default::default()
                },
            ),
            r if r < 0.82 => (
                ActivityKind::AddToCart,
                ActivityDetails {
                    product_id: Some(product),
                    client,
                    ..Default::default()
                },
            ),
            r if r < 0.89 => (
                ActivityKind::AddToWishlist,
                ActivityDetails {
                    product_id: Some(product),
                    client,
                    ..Default::default()
                },
            ),
            r if r < 0.95 => (
                ActivityKind::ShopVisit,
                ActivityDetails {
                    shop_id: Some(shop),
                    client,
                    ..Default::default()
                },
            ),
            _ => {
                let (_, _, subs) = CATALOG.choose(&mut rng).expect("catalog");
                let query = subs
                    .choose(&mut rng)
                    .and_then(|(_, _, nouns, _)| nouns.choose(&mut rng))
                    .expect("nouns")
                    .to_lowercase();
                (
                    ActivityKind::Search,
                    ActivityDetails {
                        query: Some(query),
                        client,
                        ..Default::default()
                    },
                )
            }
        };
        commands.push((
            Actor::Anonymous { session },
            Command::RecordActivity { kind, details },
            at,
        ));
    }
    // Activity arrives in time order; sending a chunk at once lets the command path batch it into
    // one durable append.
    commands.sort_by_key(|(_, _, at)| *at);
    for chunk in commands.chunks(500) {
        let results = futures::future::join_all(
            chunk
                .iter()
                .cloned()
                .map(|(actor, command, at)| app.execute_at(actor, command, at)),
        )
        .await;
        for result in results {
            result.context("recording demo activity")?;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.set_message("orders");
    let placed = seed_orders(app, options, &products, &mut rng, history_start).await?;
    bar.set_message("chat");
    let conversations = seed_conversations(app, &mut rng, now).await?;
    bar.finish_with_message("done");
    eprintln!(
        "Demo marketplace ready: {} shops, {} products, {} activity events, {placed} orders, {conversations} conversations.",
        options.shops,
        products.len(),
        options.activity
    );
    Ok(())
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dario", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Mia", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST_NAMES: &[&str] = &[
    "Berg", "Costa", "Dubois", "Evans", "Fischer", "García", "Hansen", "Rossi", "Smith", "Weber",
];

/// Demo shoppers (`shopper1@demo.test`, …) buy through the same commands as the portals: a cart
/// of one to three products from one or two shops, sometimes a shop's code, a checkout, and the
/// payment the sandbox would confirm. Orders older than a few days have moved on (shipped,
/// delivered); some delivered ones are reviewed. Returns the orders placed.
async fn seed_orders(
    app: &api::AppState,
    options: &DemoOptions,
    products: &[(ProductId, ShopId)],
    rng: &mut StdRng,
    history_start: chrono::DateTime<Utc>,
) -> anyhow::Result<usize> {
    use domain::{
        AccountCommand, Address, AddressId, CartCommand, CheckoutCommand, CheckoutId,
        DeliveryStatus, OrderCommand, PaymentCommand, ReviewCommand, ReviewId,
    };
    if options.orders == 0 || products.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let mut shoppers = Vec::new();
    for n in 0..20 {
        let name = format!(
            "{} {}",
            FIRST_NAMES[n % FIRST_NAMES.len()],
            LAST_NAMES[(n * 7) % LAST_NAMES.len()]
        );
        let email = format!("shopper{}@{DEMO_DOMAIN}", n + 1);
        let id = demo_account(
            app,
            &email,
            &name,
            Role::Shopper,
            history_start - Duration::days(20),
        )
        .await?;
        let (country, cities) = COUNTRIES[n % COUNTRIES.len()];
        let address = AddressId(uuid(rng));
        if app
            .state()
            .accounts
            .get(&id)
            .is_some_and(|a| a.addresses.is_empty())
        {
            let add = AccountCommand::AddAddress {
                account: id,
                address: Address {
                    id: address,
                    label: "Home".into(),
                    name: name.clone(),
                    street: format!("{} Market Street", rng.random_range(1..200)),
                    city: cities[n % cities.len()].to_string(),
                    zip: format!("{:05}", rng.random_range(10000..99999)),
                    country: country.to_string(),
                    is_default: true,
                },
            };
            let actor = Actor::Account {
                role: Role::Shopper,
                id,
            };
            app.execute_at(
                actor,
                Command::Account(add),
                history_start - Duration::days(19),
            )
            .await
            .context("adding a demo shopper's address")?;
        }
        let address = app.state().accounts[&id].addresses[0].id;
        shoppers.push((id, address));
    }
    let mut times: Vec<chrono::DateTime<Utc>> = (0..options.orders)
        .map(|_| history_start + Duration::seconds(rng.random_range(0..14 * 24 * 3600)))
        .collect();
    times.sort();
    let mut placed = 0;
    for at in times {
        let (shopper, address) = *shoppers.choose(rng).expect("shoppers");
        let actor = Actor::Account {
            role: Role::Shopper,
            id: shopper,
        };
        let state = app.state();
        let first = products.choose(rng).expect("products").1;
        let second = products.choose(rng).expect("products").1;
        let mut first_line = None;
        for _ in 0..rng.random_range(1..=3) {
            let shop = if rng.random_bool(0.7) { first } else { second };
            let candidates: Vec<&(ProductId, ShopId)> =
                products.iter().filter(|(_, s)| *s == shop).collect();
            let &&(product, _) = candidates.choose(rng).expect("every shop has products");
            let ok = state.products.get(&product).is_some_and(|p| {
                p.stock > 2
                    && p.is_visible()
                    && p.details.starts_at.is_none_or(|s| s <= at)
                    && p.details.ends_at.is_none_or(|e| e > at)
            });
            if !ok {
                continue;
            }
            let set = CartCommand::SetItem {
                product,
                quantity: rng.random_range(1..=2),
                options: Default::default(),
                client: ClientContext {
                    device: Device::Desktop,
                    country: None,
                    city: None,
                },
            };
            if app.execute_at(actor, Command::Cart(set), at).await.is_ok() {
                first_line.get_or_insert(product);
            }
        }
        let Some(first_line) = first_line else {
            continue;
        };
        // One order in four began with a click on a recommendation of its first product, so the
        // dashboard's "bought within 7 days" has something to count.
        if rng.random_bool(0.25) {
            let click = Command::RecordActivity {
                kind: ActivityKind::RecommendationClick,
                details: ActivityDetails {
                    product_id: Some(first_line),
                    recommendation: Some(domain::RecommendationContext {
                        placement: "home".into(),
                        source: "trending".into(),
                        products: Vec::new(),
                    }),
                    ..Default::default()
                },
            };
            let clicked_at = at - Duration::minutes(rng.random_range(2..30));
            app.execute_at(actor, click, clicked_at)
                .await
                .context("recording a demo recommendation click")?;
        }
        if rng.random_bool(0.2) {
            let codes: Vec<String> = app
                .state()
                .discount_codes
                .values()
                .filter(|c| c.shop_id == first)
                .map(|c| c.code.clone())
                .collect();
            if let Some(code) = codes.first() {
                let apply = CartCommand::ApplyCode { code: code.clone() };
                let _ = app.execute_at(actor, Command::Cart(apply), at).await;
            }
        }
        let state = app.state();
        let Some(cart) = state.carts.get(&domain::CartOwner::Account(shopper)) else {
            continue;
        };
        let priced = domain::price_cart(&state, cart, at);
        if !priced.problems.is_empty() {
            // Leave it be: an abandoned cart is part of the story too.
            continue;
        }
        let checkout = CheckoutId(uuid(rng));
        let payment_ref = format!("pi_sbx_{}", checkout.0.simple());
        let open = CheckoutCommand::Open {
            id: checkout,
            address,
            provider: "sandbox".into(),
            payment_ref: payment_ref.clone(),
            amount: priced.total,
        };
        app.execute_at(actor, Command::Checkout(open), at)
            .await
            .context("opening a demo checkout")?;
        let paid = PaymentCommand::Succeeded {
            checkout,
            payment_ref,
            amount: priced.total,
        };
        let events = app
            .execute_at(
                Actor::System,
                Command::Payment(paid),
                at + Duration::minutes(2),
            )
            .await
            .context("paying a demo checkout")?;
        for event in &events {
            let domain::Event::OrderPlaced(order) = event else {
                continue;
            };
            placed += 1;
            let age = now - at;
            let reached = match age.num_days() {
                0 => DeliveryStatus::Ordered,
                1 => DeliveryStatus::Packed,
                2..=3 => DeliveryStatus::Shipped,
                4 => DeliveryStatus::OutForDelivery,
                _ => DeliveryStatus::Delivered,
            };
            let Some(seller) = state.shops.get(&order.part.shop_id).and_then(|s| s.owner) else {
                continue;
            };
            let seller = Actor::Account {
                role: Role::Seller,
                id: seller,
            };
            for (step, status) in DeliveryStatus::ALL.iter().enumerate().skip(1) {
                if *status > reached {
                    break;
                }
                let move_on = OrderCommand::SetDeliveryStatus {
                    id: order.id,
                    status: *status,
                };
                app.execute_at(
                    seller,
                    Command::Order(move_on),
                    at + Duration::hours(10 * step as i64),
                )
                .await
                .context("moving a demo order on")?;
            }
            if reached == DeliveryStatus::Delivered && rng.random_bool(0.5) {
                for line in &order.part.lines {
                    let rating = *[5u8, 5, 5, 4, 4, 3, 2].choose(rng).expect("ratings");
                    let text = REVIEW_TEXTS[usize::from(rating) % REVIEW_TEXTS.len()].to_string();
                    let review = ReviewCommand::Post {
                        id: ReviewId(uuid(rng)),
                        product: line.product_id,
                        rating,
                        text,
                    };
                    // A second order of the same product is not reviewed twice.
                    let _ = app
                        .execute_at(actor, Command::Review(review), at + Duration::days(5))
                        .await;
                }
            }
        }
    }
    Ok(placed)
}

const REVIEW_TEXTS: &[&str] = &[
    "Arrived quickly and looks even better than in the photos.",
    "Good quality for the price. Would buy again.",
    "Not quite what I expected, but the seller was helpful.",
    "Fine, nothing special.",
    "Lovely! It was a gift and they adored it.",
    "Beautifully made and carefully packed.",
];

/// Questions shoppers ask and how shops answer, in turns.
const CHATS: &[&[&str]] = &[
    &[
        "Hi! Is this still in stock in the blue one?",
        "Hello! Yes, two left in blue. Shall I put one aside for you?",
        "Yes please, I'll order tonight 🙏",
        "Done — it's yours until tomorrow evening.",
    ],
    &[
        "How long does delivery to Berlin usually take?",
        "Usually 2–3 working days with DHL. You get the tracking link by e-mail.",
    ],
    &[
        "Could you do a gift wrap?",
        "Of course, free of charge. Just add a note at checkout 🎁",
        "Perfect, thanks!",
    ],
    &[
        "Is the size true to the photos?",
        "The measurements are in the specifications; the photo shows the large one.",
        "Got it. And do you ship to Austria?",
    ],
    &["My parcel says delivered but I can't find it 😟"],
];

/// Conversations between demo shoppers and shops: a few turns each, the newest unread by whoever
/// is to answer, so both inboxes show badges. The demo shopper (`shopper@demo.test`) has one too.
/// Returns how many conversations there are.
async fn seed_conversations(
    app: &api::AppState,
    rng: &mut StdRng,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<usize> {
    // The demo shopper first, so signing in as them shows a conversation.
    demo_account(
        app,
        &format!("shopper@{DEMO_DOMAIN}"),
        "Demo Shopper",
        Role::Shopper,
        now - Duration::days(60),
    )
    .await?;
    let state = app.state();
    let mut shoppers: Vec<&domain::Account> = state
        .accounts
        .values()
        .filter(|a| a.role == Role::Shopper && a.email.ends_with(&format!("@{DEMO_DOMAIN}")))
        .collect();
    shoppers.sort_by_key(|a| (a.email.len(), a.email.clone()));
    let shops: Vec<&domain::Shop> = state.shops.values().filter(|s| s.owner.is_some()).collect();
    if shops.is_empty() {
        return Ok(0);
    }
    let mut started = 0;
    for (n, shopper) in shoppers.iter().take(16).enumerate() {
        let shop = shops[n % shops.len()];
        let owner = shop.owner.expect("filtered");
        let as_shopper = Actor::Account {
            role: Role::Shopper,
            id: shopper.id,
        };
        let as_shop = Actor::Account {
            role: Role::Seller,
            id: owner,
        };
        let mut at = now - Duration::hours(rng.random_range(2..96));
        let id = ConversationId(uuid(rng));
        let start = Command::Chat(ChatCommand::Start { id, shop: shop.id });
        app.execute_at(as_shopper, start, at)
            .await
            .context("starting a demo conversation")?;
        let Some(thread) = app
            .state()
            .conversation_between(shopper.id, shop.id)
            .map(|t| t.conversation.id)
        else {
            continue;
        };
        started += 1;
        let turns = CHATS[n % CHATS.len()];
        for (turn, text) in turns.iter().enumerate() {
            at += Duration::minutes(rng.random_range(2..90));
            let who = if turn % 2 == 0 { as_shopper } else { as_shop };
            let send = Command::Chat(ChatCommand::Send {
                conversation: thread,
                id: MessageId(uuid(rng)),
                text: text.to_string(),
                image: None,
            });
            app.execute_at(who, send, at.min(now))
                .await
                .context("sending a demo message")?;
        }
    }
    Ok(started)
}

/// The password of every demo account (printed by `serve --demo`).
pub const DEMO_PASSWORD: &str = "demo-password";
const DEMO_DOMAIN: &str = "demo.test";

/// Opens a demo account unless its e-mail is taken; returns its id either way.
async fn demo_account(
    app: &api::AppState,
    email: &str,
    name: &str,
    role: Role,
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<AccountId> {
    if let Some(existing) = app.state().account_by_email(email) {
        return Ok(existing.id);
    }
    let account = api::auth::flows::create_account_at(
        app,
        Actor::System,
        name,
        email,
        role,
        DEMO_PASSWORD,
        at,
    )
    .await
    .with_context(|| format!("opening the demo account {email}"))?;
    Ok(account.id)
}

/// The demo's admin, analyst and shopper (sellers come with their shops). Idempotent; returns
/// every demo account as (role, e-mail), to print.
pub async fn seed_accounts(app: &api::AppState) -> anyhow::Result<Vec<(String, String)>> {
    let at = Utc::now() - Duration::days(60);
    for (local, name, role) in [
        ("admin", "Demo Admin", Role::Admin),
        ("analyst", "Demo Analyst", Role::Analyst),
        ("shopper", "Demo Shopper", Role::Shopper),
    ] {
        demo_account(app, &format!("{local}@{DEMO_DOMAIN}"), name, role, at).await?;
    }
    let state = app.state();
    let mut accounts: Vec<(String, String)> = state
        .accounts
        .values()
        .filter(|a| a.email.ends_with(&format!("@{DEMO_DOMAIN}")))
        .map(|a| (api::role_name(a.role).to_string(), a.email.clone()))
        .collect();
    accounts
        .sort_by_key(|(role, email)| (role != "admin", role.clone(), email.len(), email.clone()));
    Ok(accounts)
}

/// Copies the log into the lakehouse and runs every pipeline once, so `marketplace sql` sees it all.
pub async fn bring_lake_up_to_date(app: &api::AppState) -> anyhow::Result<()> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner.set_message("writing the log to bronze tables…");
    app.sink
        .catch_up_all()
        .await
        .context("writing the log to the lakehouse")?;
    spinner.set_message("running pipelines…");
    let reports = app
        .pipelines
        .run_all_once()
        .await
        .context("running pipelines")?;
    spinner.finish_and_clear();
    for (spec, report) in app.pipelines.pipelines().iter().zip(reports) {
        eprintln!(
            "{} → {}: {} new source rows, {} rows written",
            spec.name, spec.target, report.rows_in, report.rows_out
        );
    }
    Ok(())
}
