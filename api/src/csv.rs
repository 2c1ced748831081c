//! CSV downloads for admins: one quoting rule (RFC 4180) and formula defusing (a cell that starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return and is not a number gets a leading `'`, so a
//! spreadsheet never runs a shop name as a formula).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A CSV document being written, header first.
pub struct Csv(String);

impl Csv {
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv(String::new());
        csv.row(header.iter().map(|h| h.to_string()));
        csv
    }

    pub fn row(&mut self, fields: impl IntoIterator<Item = String>) {
        let cells: Vec<String> = fields.into_iter().map(|f| field(&f)).collect();
        self.0.push_str(&cells.join(","));
        self.0.push('\n');
    }

    /// The document as a download called `file_name`.
    pub fn download(self, file_name: &str) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            self.0,
        )
            .into_response()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn field(raw: &str) -> String {
    let value = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) && raw.parse::<f64>().is_err()
    {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut csv = Csv::new(&["name", "amount"]);
        csv.row(["Clay, \"Co\"".to_string(), "-12".to_string()]);
        csv.row(["=HYPERLINK(\"x\")".to_string(), "@SUM".to_string()]);
        assert_eq!(
            csv.into_string(),
            "name,amount\n\"Clay, \"\"Co\"\"\",-12\n\"'=HYPERLINK(\"\"x\"\")\",'@SUM\n"
        );
    }
}
