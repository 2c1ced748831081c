//! `/admin/sql`: the SQL explorer for admins and analysts — the lake's tables with their columns
//! and versions, an editor, the answer as a table and a chart, and downloads (CSV, Parquet,
//! Arrow). Read-only and bounded like `POST /api/sql`, through the same [`api::explorer`].

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Portal, Viewer};
use api::AppState;
use api::explorer::{self, Format, TableInfo};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lakehouse::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::Deserialize;

/// Rows the page shows (downloads carry them all, up to the explorer's limit).
const SHOWN_ROWS: usize = 500;
/// Bars the chart draws at most.
const CHART_BARS: usize = 30;

/// The question the page opens with: last week's best-selling categories.
const EXAMPLE: &str = "-- Which category sold most in the last 7 days?
SELECT p.category,
       sum(i.quantity) AS units,
       sum(i.subtotal - i.discount) / 100.0 AS revenue
FROM silver.order_items AS i
JOIN silver.products AS p USING (product_id)
WHERE i.day >= current_date - INTERVAL '7 days'
GROUP BY p.category
ORDER BY revenue DESC";

pub struct Bar {
    label: String,
    value: String,
    /// Width in percent of the widest.
    width: f64,
}

pub struct Chart {
    /// What the bars measure: the first numeric column.
    measure: String,
    bars: Vec<Bar>,
}

pub struct Results {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    total: usize,
    truncated: bool,
    elapsed_ms: u64,
    chart: Option<Chart>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_sql.html")]
pub struct ExplorerPage {
    chrome: Chrome,
    tables: Vec<TableInfo>,
    tables_error: Option<String>,
    sql: String,
    as_of: String,
    results: Option<Results>,
    error: Option<String>,
    /// "30 s, 512 MiB and 100000 rows": what each question may use.
    limits: String,
}

#[derive(Deserialize)]
pub struct QuestionForm {
    sql: String,
    #[serde(default)]
    as_of: String,
    /// Downloads only: `csv`, `parquet` or `arrow`.
    #[serde(default)]
    format: String,
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    sql: String,
    as_of: String,
    outcome: Option<Result<lakehouse::Answer, api::ApiError>>,
) -> Response {
    let (tables, tables_error) = match explorer::tables(app).await {
        Ok(tables) => (tables, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let (results, error, status) = match outcome {
        None => (None, None, StatusCode::OK),
        Some(Ok(answer)) => (Some(results(&answer)), None, StatusCode::OK),
        Some(Err(e)) => (None, Some(e.to_string()), e.status()),
    };
    let page = ExplorerPage {
        chrome: Chrome::with(&app.state(), "admin", viewer).in_section("sql"),
        tables,
        tables_error,
        sql,
        as_of,
        results,
        error,
        limits: {
            let l = app.config.sql_limits;
            format!(
                "{} s, {} MiB and {} rows",
                l.time.as_secs_f64(),
                l.memory_bytes >> 20,
                l.rows
            )
        },
    };
    (status, page).into_response()
}

pub async fn show(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(&app, Portal::Admin, "/admin/sql") {
        return refused;
    }
    render(&app, &viewer, EXAMPLE.to_string(), String::new(), None).await
}

pub async fn run(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Response {
    match ask(&app, &viewer, &form).await {
        Ok(answer) => render(&app, &viewer, form.sql, form.as_of, Some(Ok(answer))).await,
        Err(refused) => refused,
    }
}

pub async fn download(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Response {
    let Some(format) = Format::parse(&form.format).filter(|f| *f != Format::Json) else {
        let error = api::ApiError::invalid("format", "csv, parquet or arrow");
        return render(&app, &viewer, form.sql, form.as_of, Some(Err(error))).await;
    };
    let answer = match ask(&app, &viewer, &form).await {
        Ok(answer) => answer,
        Err(refused) => return refused,
    };
    match explorer::respond(&answer, format) {
        Ok(response) => response,
        Err(e) => render(&app, &viewer, form.sql, form.as_of, Some(Err(e))).await,
    }
}

/// The form's question, answered for an admin or analyst; otherwise the page that says why
/// (the sign-in, a refusal, or the explorer with the error).
async fn ask(
    app: &AppState,
    viewer: &Viewer,
    form: &QuestionForm,
) -> Result<lakehouse::Answer, Response> {
    let who = viewer.require(app, Portal::Admin, "/admin/sql")?.clone();
    let limits = explorer::limits(app, None);
    match explorer::ask(app, &who, &form.sql, Some(&form.as_of), limits).await {
        Ok(answer) => Ok(answer),
        Err(e) => Err(render(
            app,
            viewer,
            form.sql.clone(),
            form.as_of.clone(),
            Some(Err(e)),
        )
        .await),
    }
}

/// The answer as text cells, and a chart when it has a label and a number to draw.
fn results(answer: &lakehouse::Answer) -> Results {
    let columns: Vec<String> = answer
        .column_names()
        .into_iter()
        .map(String::from)
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    'batches: for batch in &answer.batches {
        let formatters: Vec<Option<ArrayFormatter<'_>>> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
            .collect();
        for i in 0..batch.num_rows() {
            if rows.len() == SHOWN_ROWS {
                break 'batches;
            }
            rows.push(
                formatters
                    .iter()
                    .map(|f| {
                        f.as_ref()
                            .map_or_else(|| "?".into(), |f| f.value(i).to_string())
                    })
                    .collect(),
            );
        }
    }
    let chart = chart(answer, &columns, &rows);
    Results {
        columns,
        rows,
        total: answer.rows,
        truncated: answer.truncated,
        elapsed_ms: answer.elapsed.as_millis() as u64,
        chart,
    }
}

/// Bars of the first numeric column, labelled by the first column, for up to [`CHART_BARS`] rows.
fn chart(answer: &lakehouse::Answer, columns: &[String], rows: &[Vec<String>]) -> Option<Chart> {
    if columns.len() < 2 || rows.len() < 2 {
        return None;
    }
    let measure = answer
        .schema
        .fields()
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, f)| f.data_type().is_numeric())
        .map(|(i, _)| i)?;
    let values: Vec<(String, f64, String)> = rows
        .iter()
        .take(CHART_BARS)
        .map(|row| {
            let value = row[measure].parse::<f64>().unwrap_or(0.0);
            (row[0].clone(), value, row[measure].clone())
        })
        .collect();
    let top = values.iter().map(|v| v.1).fold(0.0_f64, f64::max);
    if top <= 0.0 {
        return None;
    }
    Some(Chart {
        measure: columns[measure].clone(),
        bars: values
            .into_iter()
            .map(|(label, value, text)| Bar {
                label,
                value: text,
                width: (value.max(0.0) / top * 100.0 * 10.0).round() / 10.0,
            })
            .collect(),
    })
}
