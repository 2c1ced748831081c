use crate::{Error, Result};
use lakehouse::TableName;
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
        Ok(PipelineSpec {
            name: name.to_string(),
            target: target.ok_or_else(|| err(0, "missing `-- target: …`".into()))?,
            mode,
            source: source.ok_or_else(|| err(0, "missing `-- source: …`".into()))?,
            trigger: trigger.unwrap_or(Duration::from_secs(2)),
            publish,
            reads: tables_named(text),
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
        ] {
            assert!(PipelineSpec::parse("p", bad).is_err(), "{bad}");
        }
    }
}
