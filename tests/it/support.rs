//! A marketplace on a temporary data dir, driven through its router without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::{
    Actor, Category, Command, Currency, Money, NewProduct, NewShop, ProductId, ProductStatus,
    ShopId, SiteConfig, Subcategory,
};
use http_body_util::BodyExt;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

pub struct TestApp {
    pub app: api::AppState,
    router: axum::Router,
}

/// A served site; the server stops when this drops.
pub struct Served {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    /// The marketplace with its background workers, except that it never retrains the
    /// recommender by itself (the tests that want it say so).
    pub async fn start(data_dir: &Path) -> TestApp {
        let mut config = api::Config::new(data_dir);
        config.retraining.enabled = false;
        Self::start_with(config).await
    }

    pub async fn start_with(config: api::Config) -> TestApp {
        console();
        let app = api::App::start(config)
            .await
            .expect("the marketplace starts");
        let router = portals::site(app.clone());
        TestApp { app, router }
    }

    /// Serves the site on a loopback port (for sockets and browsers) until the handle drops.
    pub async fn serve(&self) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Served { addr, task }
    }

    pub async fn request(&self, request: Request<Body>) -> Response {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, uri: &str) -> Response {
        self.request(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Opens a portal page as a signed-in browser would (the access cookie).
    pub async fn page(&self, uri: &str, token: &str) -> Response {
        self.request(
            Request::get(uri)
                .header(header::COOKIE, format!("access_token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post_json(&self, uri: &str, body: serde_json::Value) -> Response {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.request(request).await
    }

    /// Waits (bounded) until the lake sink has copied `records` records of `topic`, over all its
    /// partitions.
    pub async fn lake_reaches(&self, topic: ingest::Topic, records: u64) {
        let mut progress = self.app.sink.progress();
        tokio::time::timeout(
            Duration::from_secs(30),
            progress.wait_for(|p| {
                p.iter()
                    .filter(|(at, _)| at.topic == topic)
                    .map(|(_, s)| s.next)
                    .sum::<u64>()
                    >= records
            }),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("the lake sink did not copy {records} records of {topic} within 30 s")
        })
        .expect("the sink is alive");
    }

    /// Waits (bounded) until `pipeline` has processed `records` records of its source: its
    /// watermarks (last offset per source partition) cover that many.
    pub async fn pipeline_reaches(&self, pipeline: &str, records: u64) {
        let mut status = self.app.pipelines.status();
        tokio::time::timeout(
            Duration::from_secs(30),
            status.wait_for(|s| {
                s.get(pipeline)
                    .and_then(|s| s.last.as_ref())
                    .is_some_and(|r| {
                        r.watermarks.values().map(|w| *w as u64 + 1).sum::<u64>() >= records
                    })
            }),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("pipeline {pipeline} did not process {records} records within 30 s")
        })
        .expect("the runner is alive");
    }

    pub async fn sql_count(&self, sql: &str) -> i64 {
        let ctx = self.app.lake.session().await.expect("a lake session");
        let batches = lakehouse::query(&ctx, sql).await.expect("the query runs");
        let json = lakehouse::format_batches(&batches, lakehouse::OutputFormat::Json).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
        rows[0]["n"]
            .as_i64()
            .unwrap_or_else(|| panic!("no count in {json}"))
    }

    /// A site with two categories, one shop and three products (one of them a draft).
    pub async fn seed_catalog(&self) -> Catalog {
        let site = SiteConfig {
            name: "Test Market".into(),
            categories: vec![
                Category {
                    slug: "kitchen".into(),
                    name: "Kitchen".into(),
                    subcategories: vec![Subcategory {
                        slug: "mugs".into(),
                        name: "Mugs".into(),
                    }],
                },
                Category {
                    slug: "books".into(),
                    name: "Books".into(),
                    subcategories: vec![],
                },
            ],
            logo: None,
            banner: None,
        };
        self.app
            .execute(Actor::System, Command::ConfigureSite(site))
            .await
            .unwrap();
        let seller = api::auth::flows::create_account(
            &self.app,
            Actor::System,
            "Clay Seller",
            CATALOG_SELLER,
            domain::Role::Seller,
            PASSWORD,
        )
        .await
        .expect("the seller's account opens");
        let shop = ShopId(uuid::Uuid::now_v7());
        let new_shop = NewShop {
            id: shop,
            owner: Some(seller.id),
            name: "Clay & Co".into(),
            bio: "Stoneware".into(),
            category: "kitchen".into(),
            country: "DE".into(),
        };
        self.app
            .execute(Actor::System, Command::CreateShop(new_shop))
            .await
            .unwrap();
        let mut products = Vec::new();
        for (title, category, price, status) in [
            ("Blue <b>Mug</b>", "kitchen", 1999, ProductStatus::Active),
            ("Field Guide", "books", 2500, ProductStatus::Active),
            ("Secret Prototype", "kitchen", 999, ProductStatus::Draft),
        ] {
            let id = ProductId(uuid::Uuid::now_v7());
            let product = NewProduct {
                id,
                shop_id: shop,
                title: title.into(),
                description: format!("About {title}"),
                category: category.into(),
                subcategory: None,
                price: Money::new(price, Currency::USD),
                sale_price: None,
                stock: 5,
                status,
                images: Vec::new(),
                details: Default::default(),
            };
            self.app
                .execute(Actor::System, Command::CreateProduct(product))
                .await
                .unwrap();
            products.push(id);
        }
        Catalog {
            shop,
            mug: products[0],
            book: products[1],
            draft: products[2],
        }
    }
}

/// The e-mail of the seller who owns the seeded shop (password [`PASSWORD`]).
pub const CATALOG_SELLER: &str = "clay-seller@example.com";

pub struct Catalog {
    pub shop: ShopId,
    pub mug: ProductId,
    pub book: ProductId,
    pub draft: ProductId,
}

/// A signed-in account for tests: its id, e-mail and bearer token.
#[derive(Clone, Debug)]
pub struct User {
    pub id: domain::AccountId,
    pub token: String,
}

pub const PASSWORD: &str = "a long test password";

impl TestApp {
    /// Signs an existing account in through the API; returns its bearer token.
    pub async fn sign_in(&self, email: &str) -> String {
        let login = self
            .post_json(
                "/api/auth/login",
                serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        login.json()["access_token"].as_str().unwrap().to_string()
    }

    /// Opens an account directly (as the system) and signs it in through the API.
    pub async fn user(&self, email: &str, role: domain::Role) -> User {
        let account = api::auth::flows::create_account(
            &self.app,
            Actor::System,
            "Test Person",
            email,
            role,
            PASSWORD,
        )
        .await
        .expect("the account opens");
        let login = self
            .post_json(
                "/api/auth/login",
                serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        User {
            id: account.id,
            token: login.json()["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// A new admin's `GET /api/admin/dashboard` (it must answer 200) and the admin's token, for
    /// the `/admin` page next.
    pub async fn admin_dashboard(&self) -> (String, serde_json::Value) {
        let admin = self.user("boss@example.com", domain::Role::Admin).await;
        let figures = self
            .call(
                axum::http::Method::GET,
                "/api/admin/dashboard",
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(figures.status, StatusCode::OK, "{}", figures.body);
        (admin.token, figures.json())
    }

    /// Sends `method uri` with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: axum::http::Method,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Response {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.request(request.unwrap()).await
    }

    /// Posts a portal form as a signed-in browser would: the access cookie, a CSRF cookie and
    /// the same token in the form.
    pub async fn post_form(&self, uri: &str, token: &str, fields: &str) -> Response {
        let request = Request::post(uri)
            .header(
                header::COOKIE,
                format!("access_token={token}; csrf_token=form"),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf_token=form&{fields}")))
            .unwrap();
        self.request(request).await
    }

    /// The newest code mailed to `email` (read from the outbox, as a person would).
    pub fn mailed_code(&self, email: &str) -> String {
        let outbox = self.app.outbox.as_ref().expect("mail goes to the outbox");
        let letters = outbox.list(Some(email), 1).expect("the outbox reads");
        let letter = letters
            .first()
            .unwrap_or_else(|| panic!("no mail to {email}"));
        letter
            .subject
            .split_whitespace()
            .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| panic!("no code in '{}'", letter.subject))
            .to_string()
    }
}

/// A multipart body with one file per `(field, file name, bytes)` and the given text fields.
pub fn multipart(texts: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "marketplace-test-boundary";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Uploads `bytes` to `POST /api/seller/media` as the bearer of `token`.
    pub async fn upload(&self, token: &str, bytes: &[u8]) -> Response {
        let (content_type, body) = multipart(&[], &[("file", "picture.png", bytes)]);
        let request = Request::post("/api/seller/media")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.request(request).await
    }

    /// Posts a portal form with files, as a signed-in browser would.
    pub async fn post_multipart(
        &self,
        uri: &str,
        token: &str,
        texts: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Response {
        let mut texts = texts.to_vec();
        texts.push(("csrf_token", "form"));
        let (content_type, body) = multipart(&texts, files);
        let request = Request::post(uri)
            .header(
                header::COOKIE,
                format!("access_token={token}; csrf_token=form"),
            )
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.request(request).await
    }
}

/// A real PNG of `width` × `height` pixels.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// Runs `marketplace demo` into `data_dir` with four shops of `products_per_shop` products,
/// `activity` events and `orders` orders, no pictures: a small lake of demo traffic.
pub fn run_demo(data_dir: &Path, products_per_shop: u32, activity: u32, orders: u32) {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "demo",
            "--shops",
            "4",
        ])
        .args(["--products-per-shop", &products_per_shop.to_string()])
        .args(["--activity", &activity.to_string()])
        .args(["--orders", &orders.to_string(), "--pictures", "false"])
        .env("RUST_LOG", "warn")
        .status()
        .expect("the marketplace binary runs");
    assert!(status.success(), "the demo ran");
}

/// The test process's one tracing subscriber: the log stream's capture layer, as in `serve`, and
/// a console kept in memory that records every line at trace level while a test asks it to.
pub struct Console {
    recording: std::sync::atomic::AtomicBool,
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct ConsoleWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn console() -> &'static Console {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    static CONSOLE: std::sync::OnceLock<Console> = std::sync::OnceLock::new();
    CONSOLE.get_or_init(|| {
        let console = Console {
            recording: Default::default(),
            text: Default::default(),
        };
        let writer = ConsoleWriter(console.text.clone());
        let recording =
            filter_fn(|_| console_recording().load(std::sync::atomic::Ordering::Relaxed));
        let levels = EnvFilter::new(
            "trace,buoyant_kernel=off,datafusion=off,deltalake_core=off,h2=off,hyper=off",
        );
        let memory = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_filter(levels.and(recording));
        let subscriber = tracing_subscriber::registry()
            .with(api::logs::layer())
            .with(memory);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per process");
        console
    })
}

fn console_recording() -> &'static std::sync::atomic::AtomicBool {
    &console().recording
}

impl Console {
    /// Keeps every line from now on (all tests' lines: a check over them only gets wider).
    pub fn record(&self) {
        self.recording
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }
}
