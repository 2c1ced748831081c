//! `marketplace sql`: read-only SQL over the lakehouse (safe while `serve` runs) — one question
//! from the command line, every statement of a script on standard input, or, at a terminal, an
//! interactive session: multi-line statements ended by `;`, history, timings and `\` commands.
//! Every question goes through [`lakehouse::explore`], like the SQL explorer's, with an operator's
//! wider limits.

use lakehouse::{AsOf, Lake, Limits, OutputFormat};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

/// An operator at the command line may ask more than a person in the explorer.
fn limits() -> Limits {
    Limits {
        time: Duration::from_secs(30 * 60),
        memory_bytes: 8 << 30,
        rows: 10_000_000,
    }
}

pub struct Session {
    pub lake: Lake,
    pub format: OutputFormat,
    pub as_of: Option<AsOf>,
    /// Print each answer's row count and time (on standard error).
    pub timing: bool,
}

impl Session {
    /// Answers one statement and prints it.
    async fn ask(&self, sql: &str) -> anyhow::Result<()> {
        let answer = lakehouse::explore(&self.lake, sql, self.as_of, limits()).await?;
        match (answer.rows, self.format) {
            (0, OutputFormat::Csv) => {}
            (0, OutputFormat::Table) => {
                println!("(no rows; columns {})", answer.column_names().join(", "))
            }
            _ => println!(
                "{}",
                lakehouse::format_batches(&answer.batches, self.format)?.trim_end()
            ),
        }
        if self.timing {
            eprintln!(
                "{} row{} in {:.1} ms{}",
                answer.rows,
                if answer.rows == 1 { "" } else { "s" },
                answer.elapsed.as_secs_f64() * 1000.0,
                if answer.truncated {
                    " (cut at the row limit)"
                } else {
                    ""
                }
            );
        }
        Ok(())
    }

    /// `query` when given ("-" reads standard input); otherwise standard input when it is not a
    /// terminal; otherwise an interactive session.
    pub async fn run(mut self, query: Option<String>, history: PathBuf) -> anyhow::Result<()> {
        let script = match query.as_deref() {
            Some("-") => Some(read_stdin()?),
            Some(sql) => return self.ask(sql).await,
            None if !std::io::stdin().is_terminal() => Some(read_stdin()?),
            None => None,
        };
        match script {
            Some(text) => {
                for statement in statements(&text) {
                    self.ask(&statement).await?;
                }
                Ok(())
            }
            None => self.interact(history).await,
        }
    }

    async fn interact(&mut self, history: PathBuf) -> anyhow::Result<()> {
        use rustyline::error::ReadlineError;
        let mut editor = rustyline::DefaultEditor::new()?;
        let _ = editor.load_history(&history);
        self.timing = true;
        eprintln!(
            "Read-only SQL over the lakehouse. End a statement with `;`. \\help for commands, \\q to leave."
        );
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.is_empty() {
                "lake> "
            } else {
                "  ... "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if buffer.is_empty() && line.trim_start().starts_with('\\') {
                        let _ = editor.add_history_entry(line.as_str());
                        if !self.command(line.trim()).await {
                            break;
                        }
                        continue;
                    }
                    buffer.push_str(&line);
                    buffer.push('\n');
                    let complete = statements(&buffer);
                    if buffer.trim_end().ends_with(';') && !complete.is_empty() {
                        let _ = editor.add_history_entry(buffer.trim());
                        for statement in complete {
                            if let Err(e) = self.ask(&statement).await {
                                eprintln!("error: {e}");
                            }
                        }
                        buffer.clear();
                    }
                }
                Err(ReadlineError::Interrupted) => buffer.clear(),
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let _ = editor.save_history(&history);
        Ok(())
    }

    /// Runs a `\` command; `false` means leave.
    async fn command(&mut self, line: &str) -> bool {
        let (name, argument) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(n, a)| (n, a.trim()));
        match name {
            "\\q" | "\\quit" => return false,
            "\\tables" | "\\dt" => match lakehouse::catalog(&self.lake).await {
                Ok(tables) => {
                    for table in tables {
                        println!("{:<32} version {}", table.name.to_string(), table.version);
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            },
            "\\d" if !argument.is_empty() => {
                let sql = format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_schema || '.' || table_name = '{}' ORDER BY ordinal_position",
                    argument.replace('\'', "")
                );
                if let Err(e) = self.ask(&sql).await {
                    eprintln!("error: {e}");
                }
            }
            "\\timing" => {
                self.timing = match argument {
                    "on" => true,
                    "off" => false,
                    _ => !self.timing,
                };
                eprintln!("timing {}", if self.timing { "on" } else { "off" });
            }
            "\\format" => match argument {
                "table" => self.format = OutputFormat::Table,
                "csv" => self.format = OutputFormat::Csv,
                "json" => self.format = OutputFormat::Json,
                _ => eprintln!("\\format table, csv or json"),
            },
            "\\as-of" | "\\asof" => match argument {
                "" | "now" => {
                    self.as_of = None;
                    eprintln!("reading every table at its latest version");
                }
                text => match text.parse::<AsOf>() {
                    Ok(as_of) => {
                        self.as_of = Some(as_of);
                        eprintln!("reading every table as of {as_of}");
                    }
                    Err(e) => eprintln!("error: {e}"),
                },
            },
            _ => eprintln!(
                "\\tables             the lake's tables and versions\n\
                 \\d <layer.table>    a table's columns\n\
                 \\timing [on|off]    row counts and times after each answer\n\
                 \\format table|csv|json\n\
                 \\as-of <version|time|now>   read every table as it was\n\
                 \\q                  leave"
            ),
        }
        true
    }
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

/// The statements of a script, split at the `;`s that are not inside quotes or comments; blank
/// statements (and comment-only ones) are left out, as is an unfinished last one only when it is
/// blank.
pub fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '-' if !single && !double && chars.peek() == Some(&'-') => {
                // A comment: to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                current.push('\n');
                continue;
            }
            ';' if !single && !double => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn scripts_split_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            statements(
                "select 1;\n-- a comment; still a comment\nselect ';' as s, \"a;b\" from t;\n\n;  "
            ),
            ["select 1", "select ';' as s, \"a;b\" from t"]
        );
        assert_eq!(statements("select 2"), ["select 2"]);
        assert!(statements("  -- only a comment\n").is_empty());
    }
}
