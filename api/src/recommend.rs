//! Recommendations in `serve` (DESIGN.md §8): the promoted model, loaded from the registry and
//! swapped in without a restart when another run is promoted; trending products from
//! `gold.trending` for visitors the model does not know; the filters every answer passes
//! (nothing bought, deleted, hidden, out of stock or from the viewer's own shop); and retraining
//! in the background on a schedule or when enough new interactions arrive.

use domain::{AccountId, Product, ProductId, State};
use lakehouse::Lake;
use models::Model;
use models::registry::Run;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// Most products one answer lists.
pub const MAX_LIMIT: usize = 48;
/// Candidates the first stage (GMF dot products over every item) hands to NeuMF's full score.
pub const CANDIDATES: usize = 200;
/// Trending products kept per country (and overall).
const TRENDING_KEPT: usize = 500;

/// The model that serves, with its products resolved to catalog ids.
pub struct Serving {
    pub run: Run,
    pub model: Model,
    products: Vec<Option<ProductId>>,
    index: HashMap<ProductId, u32>,
}

impl Serving {
    pub fn new(run: Run, model: Model) -> Self {
        let products: Vec<Option<ProductId>> = model
            .items()
            .iter()
            .map(|id| id.parse::<uuid::Uuid>().ok().map(ProductId))
            .collect();
        let index = products
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (p, i as u32)))
            .collect();
        Serving {
            run,
            model,
            products,
            index,
        }
    }
}

/// Products ranked by the last week's interactions, overall and per visitor country.
#[derive(Default)]
pub struct Trending {
    overall: Vec<ProductId>,
    by_country: HashMap<String, Vec<ProductId>>,
}

/// Where recommendations came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The serving model ranked them for this person (or by likeness to a product).
    Model,
    /// The cold start: what is trending in the visitor's country and the page's category.
    Trending,
}

/// What is asked: for whom, in what context, how many.
#[derive(Clone, Debug, Default)]
pub struct Ask {
    pub account: Option<AccountId>,
    pub country: Option<String>,
    pub category: Option<String>,
    /// "Similar items": products like this one instead of products for the person.
    pub similar_to: Option<ProductId>,
    pub limit: usize,
}

#[derive(Clone, Debug)]
pub struct Recommended {
    pub source: Source,
    /// The model run that ranked them (`None` for trending).
    pub run_id: Option<String>,
    pub products: Vec<ProductId>,
}

impl Recommended {
    /// `trending` or the run id, as activity records it.
    pub fn source_label(&self) -> String {
        self.run_id.clone().unwrap_or_else(|| "trending".into())
    }
}

impl Recommended {
    /// The `recommendation_shown` activity for this answer at `placement` (`None` when empty).
    pub fn shown(&self, placement: &str, client: domain::ClientContext) -> Option<domain::Command> {
        (!self.products.is_empty()).then(|| domain::Command::RecordActivity {
            kind: domain::ActivityKind::RecommendationShown,
            details: domain::ActivityDetails {
                recommendation: Some(domain::RecommendationContext {
                    placement: placement.to_string(),
                    source: self.source_label(),
                    products: self
                        .products
                        .iter()
                        .take(domain::MAX_SHOWN)
                        .copied()
                        .collect(),
                }),
                client,
                ..Default::default()
            },
        })
    }
}

/// The `recommendation_click` activity: `product` opened from a list at `placement` by `source`.
pub fn click(
    product: ProductId,
    placement: &str,
    source: &str,
    client: domain::ClientContext,
) -> domain::Command {
    domain::Command::RecordActivity {
        kind: domain::ActivityKind::RecommendationClick,
        details: domain::ActivityDetails {
            product_id: Some(product),
            recommendation: Some(domain::RecommendationContext {
                placement: placement.to_string(),
                source: source.to_string(),
                products: Vec::new(),
            }),
            client,
            ..Default::default()
        },
    }
}

#[derive(Default)]
pub struct Recommender {
    serving: RwLock<Option<Arc<Serving>>>,
    trending: RwLock<Arc<Trending>>,
}

impl Recommender {
    pub fn serving(&self) -> Option<Arc<Serving>> {
        self.serving.read().expect("serving lock").clone()
    }

    /// Loads the promoted run if it is not the one serving: `Some(run id)` when it swapped.
    pub async fn refresh_model(&self, lake: &Lake) -> Result<Option<String>, models::Error> {
        let Some((promotion, run)) = models::registry::serving(lake).await? else {
            return Ok(None);
        };
        if self
            .serving()
            .is_some_and(|s| s.run.run_id == promotion.run_id)
        {
            return Ok(None);
        }
        let model = models::registry::load_model(lake, &run).await?;
        let id = run.run_id.clone();
        self.serve(run, model);
        Ok(Some(id))
    }

    /// Serves `model` (trained as `run`) from the next request on.
    pub fn serve(&self, run: Run, model: Model) {
        *self.serving.write().expect("serving lock") = Some(Arc::new(Serving::new(run, model)));
    }

    /// Re-reads the last seven days of `gold.trending`.
    pub async fn refresh_trending(&self, lake: &Lake) -> Result<(), lakehouse::Error> {
        let table =
            lakehouse::TableName::new(lakehouse::Layer::Gold, "trending").expect("a valid name");
        let Some(delta) = lake.open_table(&table).await? else {
            return Ok(());
        };
        let ctx = lake.session_with(vec![(table, delta)]).await?;
        let batches = lakehouse::query(
            &ctx,
            "SELECT country, product_id, SUM(points) AS score FROM gold.trending \
             WHERE day >= CURRENT_DATE - INTERVAL '7 days' \
             GROUP BY country, product_id ORDER BY score DESC, product_id",
        )
        .await?;
        let mut overall: HashMap<ProductId, f64> = HashMap::new();
        let mut by_country: HashMap<String, Vec<ProductId>> = HashMap::new();
        for row in lakehouse::json_rows(&batches)? {
            let Some(product) = row["product_id"]
                .as_str()
                .and_then(|p| p.parse::<uuid::Uuid>().ok())
                .map(ProductId)
            else {
                continue;
            };
            let score = row["score"].as_f64().unwrap_or(0.0);
            *overall.entry(product).or_default() += score;
            let country = row["country"].as_str().unwrap_or_default();
            if !country.is_empty() {
                let list = by_country.entry(country.to_string()).or_default();
                if list.len() < TRENDING_KEPT {
                    list.push(product);
                }
            }
        }
        let mut overall: Vec<(ProductId, f64)> = overall.into_iter().collect();
        overall.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        overall.truncate(TRENDING_KEPT);
        *self.trending.write().expect("trending lock") = Arc::new(Trending {
            overall: overall.into_iter().map(|(p, _)| p).collect(),
            by_country,
        });
        Ok(())
    }

    /// Up to `ask.limit` products for `ask`, from the model when it knows the person (or the
    /// product, for similar items), otherwise trending; topped up from trending, then the newest
    /// products, when the filters leave too few.
    pub fn recommend(&self, state: &State, ask: &Ask) -> Recommended {
        let limit = ask.limit.clamp(1, MAX_LIMIT);
        let filter = Offerable::new(state, ask);
        let mut picked: Vec<ProductId> = Vec::with_capacity(limit);
        let mut run_id = None;
        if let Some(serving) = self.serving() {
            let allowed = |item: u32| {
                serving.products[item as usize]
                    .and_then(|p| state.products.get(&p))
                    .is_some_and(|p| filter.admits(p))
            };
            let ranked = match (ask.similar_to, ask.account) {
                (Some(product), _) => serving.index.get(&product).map(|item| {
                    serving
                        .model
                        .similar_items(*item, limit, CANDIDATES, allowed)
                }),
                (None, Some(account)) => serving
                    .model
                    .user(&account.0.to_string())
                    .map(|user| serving.model.top_n(user, limit, CANDIDATES, allowed)),
                (None, None) => None,
            };
            if let Some(ranked) = ranked.filter(|r| !r.is_empty()) {
                run_id = Some(serving.run.run_id.clone());
                picked.extend(
                    ranked
                        .iter()
                        .filter_map(|(item, _)| serving.products[*item as usize]),
                );
            }
        }
        if picked.len() < limit {
            let trending = self.trending.read().expect("trending lock").clone();
            let local = ask
                .country
                .as_ref()
                .and_then(|c| trending.by_country.get(c))
                .map(Vec::as_slice)
                .unwrap_or_default();
            // Newest first: product ids are time-ordered (UUIDv7).
            let newest = state.products.keys().rev();
            let mut seen: HashSet<ProductId> = picked.iter().copied().collect();
            for id in local.iter().chain(&trending.overall).chain(newest) {
                if picked.len() >= limit {
                    break;
                }
                if seen.insert(*id)
                    && state
                        .products
                        .get(id)
                        .is_some_and(|p| filter.admits(p) && filter.in_category(p))
                {
                    picked.push(*id);
                }
            }
        }
        Recommended {
            source: if run_id.is_some() {
                Source::Model
            } else {
                Source::Trending
            },
            run_id,
            products: picked,
        }
    }
}

/// What may be recommended to a viewer: visible, in stock, not from their own shop, not bought
/// before, and not the product the page shows.
struct Offerable<'a> {
    state: &'a State,
    viewer: Option<AccountId>,
    bought: HashSet<ProductId>,
    except: Option<ProductId>,
    category: Option<String>,
}

impl<'a> Offerable<'a> {
    fn new(state: &'a State, ask: &Ask) -> Self {
        let bought = ask
            .account
            .and_then(|a| state.shopper_orders.get(&a))
            .into_iter()
            .flatten()
            .filter_map(|order| state.orders.get(order))
            .flat_map(|order| order.part.lines.iter().map(|l| l.product_id))
            .collect();
        let category = ask.category.clone().or_else(|| {
            ask.similar_to
                .and_then(|p| state.products.get(&p))
                .map(|p| p.category.clone())
        });
        Offerable {
            state,
            viewer: ask.account,
            bought,
            except: ask.similar_to,
            category,
        }
    }

    fn admits(&self, product: &Product) -> bool {
        product.is_visible()
            && product.stock > 0
            && Some(product.id) != self.except
            && !self.bought.contains(&product.id)
            && !self.viewer.is_some_and(|me| {
                self.state
                    .shops
                    .get(&product.shop_id)
                    .is_some_and(|shop| shop.owner == Some(me))
            })
    }

    /// The context's category, for the cold start (the model's picks may cross categories).
    fn in_category(&self, product: &Product) -> bool {
        self.category
            .as_ref()
            .is_none_or(|c| &product.category == c)
    }
}

/// When `serve` retrains on its own.
#[derive(Clone, Debug)]
pub struct RetrainPolicy {
    /// Off: only `marketplace models train` trains.
    pub enabled: bool,
    /// Retrain when the newest run is this old…
    pub every: std::time::Duration,
    /// …or this many interactions arrived since its snapshot.
    pub after_new: u64,
    /// Fewer interactions than this are not worth a first model.
    pub min_interactions: u64,
    /// How often the conditions are looked at (and the promoted model checked for a swap).
    pub check_every: std::time::Duration,
}

impl Default for RetrainPolicy {
    fn default() -> Self {
        RetrainPolicy {
            enabled: true,
            every: std::time::Duration::from_secs(24 * 3600),
            after_new: 2_000,
            min_interactions: 200,
            check_every: std::time::Duration::from_secs(10),
        }
    }
}

impl RetrainPolicy {
    /// Why a retraining is due now, if it is: `last` is the newest run's time and the rows of
    /// its snapshot, `rows` what `silver.interactions` holds now.
    pub fn due(
        &self,
        last: Option<(chrono::DateTime<chrono::Utc>, u64)>,
        rows: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<String> {
        if !self.enabled || rows < self.min_interactions {
            return None;
        }
        let Some((at, trained_rows)) = last else {
            return Some(format!("no model yet and {rows} interactions"));
        };
        let new = rows.saturating_sub(trained_rows);
        if new == 0 {
            return None;
        }
        if new >= self.after_new {
            return Some(format!("{new} new interactions"));
        }
        let age = (now - at).to_std().unwrap_or_default();
        (age >= self.every).then(|| format!("the newest model is {} h old", age.as_secs() / 3600))
    }
}

/// The recommender's worker in `serve`: every `check_every`, swaps in a newly promoted model,
/// re-reads trending products, and retrains (snapshot, train, evaluate, promote if better) when
/// the policy says so. Training runs on a blocking thread, never on a request's.
pub async fn run(app: crate::AppState, cancel: tokio_util::sync::CancellationToken) {
    let policy = app.config.retraining.clone();
    loop {
        if let Err(e) = app.recommender.refresh_model(&app.lake).await {
            tracing::warn!(error = %e, "could not load the promoted model");
        }
        if let Err(e) = app.recommender.refresh_trending(&app.lake).await {
            tracing::warn!(error = %e, "could not read trending products");
        }
        match retrain_reason(&app.lake, &policy).await {
            Ok(Some(reason)) => retrain(&app, &reason).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not tell whether to retrain"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(policy.check_every) => {}
        }
    }
}

async fn retrain_reason(
    lake: &Lake,
    policy: &RetrainPolicy,
) -> Result<Option<String>, models::Error> {
    if !policy.enabled {
        return Ok(None);
    }
    let Some(table) = lake
        .open_table(&models::source::interactions_table())
        .await?
    else {
        return Ok(None);
    };
    let ctx = lake
        .session_with(vec![(models::source::interactions_table(), table)])
        .await?;
    let batches = lakehouse::query(&ctx, "SELECT count(*) AS n FROM silver.interactions").await?;
    let rows = lakehouse::json_rows(&batches)?
        .first()
        .and_then(|r| r["n"].as_u64())
        .unwrap_or(0);
    let last = match models::registry::runs(lake).await?.into_iter().next() {
        Some(run) => Some((
            run.created_at,
            models::source::snapshot_rows(lake, run.snapshot_id)
                .await?
                .unwrap_or(0),
        )),
        None => None,
    };
    Ok(policy.due(last, rows, chrono::Utc::now()))
}

async fn retrain(app: &crate::AppState, reason: &str) {
    tracing::info!(reason, "retraining the recommender");
    let lake = app.lake.clone();
    let handle = tokio::runtime::Handle::current();
    let trained =
        tokio::task::spawn_blocking(move || handle.block_on(models::registry::retrain(&lake)))
            .await;
    match trained {
        Ok(Ok(reports)) => {
            for report in reports {
                tracing::info!(
                    run = %report.run.run_id,
                    architecture = %report.run.architecture,
                    hr_at_10 = report.run.metrics.hr_at_10,
                    ndcg_at_10 = report.run.metrics.ndcg_at_10,
                    seconds = report.run.training_seconds,
                    promoted = report.promoted.is_some(),
                    "retrained the recommender"
                );
            }
            if let Err(e) = app.recommender.refresh_model(&app.lake).await {
                tracing::warn!(error = %e, "could not load the promoted model");
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "retraining failed"),
        Err(e) => tracing::warn!(error = %e, "retraining panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn retraining_is_due_on_schedule_or_new_interactions_only() {
        let policy = RetrainPolicy::default();
        let now = Utc::now();
        assert_eq!(policy.due(None, 10, now), None, "too little to learn from");
        assert!(policy.due(None, 500, now).unwrap().contains("no model yet"));
        let fresh = Some((now - Duration::hours(1), 10_000));
        assert_eq!(policy.due(fresh, 10_500, now), None);
        assert!(policy.due(fresh, 12_000, now).unwrap().contains("2000 new"));
        let old = Some((now - Duration::hours(25), 10_000));
        assert!(policy.due(old, 10_001, now).unwrap().contains("25 h old"));
        assert_eq!(policy.due(old, 10_000, now), None, "nothing new to learn");
        let off = RetrainPolicy {
            enabled: false,
            ..policy
        };
        assert_eq!(off.due(None, 500, now), None);
    }
}
