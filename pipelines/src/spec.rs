use crate::{Error, Result};
use lakehouse::TableName;
use lakehouse::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;
use std::time::Duration;

/// How a pipeline's output is written to its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// New rows are appended.
    Append,
    /// Rows are matched on `keys`; `add` columns are summed with the stored value, the other
    /// columns replaced; unmatched rows are inserted.
    Merge { keys: Vec<String>, add: Vec<String> },
    /// The target is replaced by the full result on every run.
    Overwrite,
}

/// One pipeline: its SQL and what its header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    pub name: String,
    pub target: TableName,
    pub mode: Mode,
    pub source: TableName,
    pub trigger: Duration,
    /// A topic each run's rows are also published to (`-- publish: notifications`), before the
    /// run commits; the rows need an id the receiver can drop repeats by.
    pub publish: Option<String>,
    pub sql: String,
    /// Every lake table the SQL names (the source among them): the tables a run loads.
    pub reads: Vec<TableName>,
    /// The target's columns, declared (`-- columns: name type, …`) by a pipeline that reads its
    /// own target to carry on from earlier runs: the runner creates the target empty with them,
    /// so the first run has a table to read.
    pub columns: Option<SchemaRef>,
}

impl PipelineSpec {
    /// Parses a pipeline file. Unknown header keys are refused, so a typo cannot silently change
    /// how a pipeline writes.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let err = |line: usize, reason: String| Error::Header {
            pipeline: name.to_string(),
            line,
            reason,
        };
        let (mut target, mut mode, mut keys, mut add, mut source, mut trigger, mut publish) =
            (None, None, Vec::new(), Vec::new(), None, None, None);
        let mut columns = None;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let Some(comment) = line.trim().strip_prefix("--") else {
                break;
            };
            let Some((key, value)) = comment.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let list = || {
                value
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            };
            match key {
                "target" => {
                    target = Some(
                        value
                            .parse::<TableName>()
                            .map_err(|e| err(line_no, e.to_string()))?,
                    )
                }
                "source" => {
                    source = Some(
                        value
                            .parse::<TableName>()
                            .map_err(|e| err(line_no, e.to_string()))?,
                    )
                }
                "mode" => mode = Some(value.to_string()),
                "publish" if !value.is_empty() => publish = Some(value.to_string()),
                "keys" => keys = list(),
                "add" => add = list(),
                "columns" => {
                    columns = Some(parse_columns(value).map_err(|reason| err(line_no, reason))?)
                }
                "trigger" => {
                    let every = value
                        .strip_prefix("every")
                        .map(str::trim)
                        .and_then(parse_duration)
                        .ok_or_else(|| err(line_no, format!("trigger '{value}': write 'every 2s', 'every 500ms' or 'every 1m'")))?;
                    trigger = Some(every);
                }
                other if other.contains(' ') => continue, // prose in the comment, not a header key
                other => return Err(err(line_no, format!("unknown header key '{other}'"))),
            }
        }
        let mode = match mode.as_deref() {
            Some("append") => Mode::Append,
            Some("overwrite") => Mode::Overwrite,
            Some("merge") if !keys.is_empty() => Mode::Merge { keys, add },
            Some("merge") => return Err(err(0, "merge needs `-- keys: …`".into())),
            Some(other) => {
                return Err(err(
                    0,
                    format!("unknown mode '{other}' (append, merge, overwrite)"),
                ));
            }
            None => return Err(err(0, "missing `-- mode: …`".into())),
        };
        let target = target.ok_or_else(|| err(0, "missing `-- target: …`".into()))?;
        let reads = tables_named(text);
        if reads.contains(&target) && columns.is_none() {
            return Err(err(
                0,
                format!(
                    "the SQL reads its own target {target}: declare its columns (`-- columns: name type, …`) so the first run has a table to read"
                ),
            ));
        }
        Ok(PipelineSpec {
            name: name.to_string(),
            target,
            mode,
            source: source.ok_or_else(|| err(0, "missing `-- source: …`".into()))?,
            trigger: trigger.unwrap_or(Duration::from_secs(2)),
            publish,
            reads,
            columns,
            sql: text.to_string(),
        })
    }
}

/// The `layer.name` tables a SQL text names outside its `--` comments, each once.
fn tables_named(sql: &str) -> Vec<TableName> {
    let mut tables: Vec<TableName> = Vec::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        for word in code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
            if let Ok(table) = word.trim_matches('.').parse::<TableName>()
                && !tables.contains(&table)
            {
                tables.push(table);
            }
        }
    }
    tables
}

/// `name type, …` with the types `string`, `bigint`, `double`, `boolean`, `date` and `timestamp`
/// (microseconds, UTC); every column nullable.
fn parse_columns(text: &str) -> std::result::Result<SchemaRef, String> {
    let mut fields = Vec::new();
    for column in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (name, kind) = column
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("column '{column}': write `name type`"))?;
        let data_type = match kind.trim() {
            "string" => DataType::Utf8,
            "bigint" => DataType::Int64,
            "double" => DataType::Float64,
            "boolean" => DataType::Boolean,
            "date" => DataType::Date32,
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            other => {
                return Err(format!(
                    "column '{name}': unknown type '{other}' (string, bigint, double, boolean, date, timestamp)"
                ));
            }
        };
        fields.push(Field::new(name, data_type, true));
    }
    if fields.is_empty() {
        return Err("`-- columns:` lists no column".into());
    }
    Ok(Arc::new(Schema::new(fields)))
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let spec = PipelineSpec::parse(
            "p",
            "-- target: gold.t\n-- mode: merge\n-- keys: a, b\n-- add: n\n-- source: bronze.activity\n-- trigger: every 500ms\n--\n-- Some prose: with a colon.\nSELECT 1",
        )
        .unwrap();
        assert_eq!(
            spec.mode,
            Mode::Merge {
                keys: vec!["a".into(), "b".into()],
                add: vec!["n".into()]
            }
        );
        assert_eq!(spec.trigger, Duration::from_millis(500));
        assert_eq!(spec.source.to_string(), "bronze.activity");
        assert!(spec.reads.is_empty(), "SELECT 1 reads no table");
        let join = PipelineSpec::parse(
            "p",
            "-- target: gold.t\n-- mode: append\n-- source: bronze.commerce\n-- reads silver.not_this\nSELECT * FROM bronze.commerce e\nJOIN silver.shop_settings AS s ON s.x = e.x -- not gold.comment\nJOIN bronze.commerce b ON true",
        )
        .unwrap();
        let reads: Vec<String> = join.reads.iter().map(|t| t.to_string()).collect();
        assert_eq!(reads, ["bronze.commerce", "silver.shop_settings"]);
        let own = PipelineSpec::parse(
            "p",
            "-- target: silver.t\n-- mode: merge\n-- keys: id\n-- columns: id string, n bigint, at timestamp\n-- source: bronze.a\nSELECT * FROM bronze.a LEFT JOIN silver.t USING (id)",
        )
        .unwrap();
        let columns = own.columns.expect("declared");
        assert_eq!(columns.field(1).data_type(), &DataType::Int64);
        assert!(
            matches!(columns.field(2).data_type(), DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if &**tz == "UTC")
        );
    }

    #[test]
    fn refuses_bad_headers() {
        for bad in [
            "-- target: gold.t\n-- source: bronze.a\nSELECT 1",
            "-- target: gold.t\n-- mode: merge\n-- source: bronze.a\nSELECT 1",
            "-- target: gold.t\n-- mode: upsert\n-- source: bronze.a\nSELECT 1",
            "-- target: gold.t\n-- mode: append\n-- source: bronze.a\n-- tirgger: every 1s\nSELECT 1",
            "-- target: gold.t\n-- mode: append\n-- source: bronze.a\n-- trigger: sometimes\nSELECT 1",
            "-- target: nowhere\n-- mode: append\n-- source: bronze.a\nSELECT 1",
            "-- target: silver.t\n-- mode: append\n-- source: bronze.a\nSELECT * FROM silver.t",
            "-- target: silver.t\n-- mode: append\n-- source: bronze.a\n-- columns: n integer\nSELECT 1",
        ] {
            assert!(PipelineSpec::parse("p", bad).is_err(), "{bad}");
        }
    }
}
