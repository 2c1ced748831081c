//! The service: app state, the command path, read views, the JSON API and its OpenAPI document.
//!
//! - [`App::start`] opens the log and the lake, rebuilds the state by replaying the log, and starts
//!   the background workers: the single-writer [`command`] path, the lake sink and the pipeline
//!   runner and lake [`upkeep`]. [`AppState`] is the cheap handle every handler gets.
//! - Writes go through [`AppState::execute`]: `domain::decide` → one durable log append per
//!   batch → `State::apply`. Reads are answered from the in-memory state.
//! - [`router`] builds the `/api` routes, `/health`, `/api/openapi.json` and the interactive
//!   docs at `/api/docs`. The portals add their pages on top of the same state.
//!
//! ```text
//! let app = App::start(Config::new("data")).await?;
//! axum::serve(listener, api::router(app.clone())).await?;
//! ```
//!
//! This crate never renders HTML: that is the portals' job.

mod analytics;
mod app;
pub mod auth;
pub mod chat;
mod command;
mod config;
pub mod csv;
mod error;
pub mod explorer;
pub mod flight_sql;
mod health;
pub mod kv;
pub mod live;
pub mod logs;
pub mod mail;
pub mod media;
mod notifications;
pub mod orders;
pub mod payments;
pub mod purge;
pub mod recommend;
mod request;
pub mod routes;
pub mod search;
#[cfg(test)]
mod test_servers;
pub mod upkeep;
mod views;

pub use analytics::{
    ATTRIBUTION_DAYS, CategorySales, DayRange, FunnelTotals, ProductDailyRow, ProductFunnel,
    RecentOrder, RecommendationStats, SalesDayRow, Share, ShopSales, VisitStats, Visitors,
};
pub use app::{App, AppState, StartError};
pub use config::Config;
pub use error::ApiError;
pub use health::{Health, WorkerState};
pub use request::{ClientAddr, Visitor, client_context};
pub use routes::admin_catalog::{AdminProductView, AdminShopView, admin_products, admin_shops};
pub use routes::{openapi, router};
pub use views::{
    AccountView, AddressView, CatalogSummary, MoneyView, Page, ProductFilter, ProductSort,
    ProductView, ShopView, SiteView, role_name,
};
