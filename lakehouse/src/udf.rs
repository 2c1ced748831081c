//! SQL helpers registered in every lake session.

use deltalake::arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use deltalake::arrow::datatypes::DataType;
use deltalake::datafusion::common::{DataFusionError, ScalarValue};
use deltalake::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use deltalake::datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers `json_get_str(json, key)`: the value of a top-level key of a JSON object as text
/// (strings unquoted, other values as JSON), or NULL when the text is not an object or lacks the key.
/// A key starting with `/` is a JSON pointer into nested values: `json_get_str(payload, '/price/amount')`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "json_get_str",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(json_get_str),
    ));
}

fn json_get_str(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let [json, key] = args else {
        return Err(DataFusionError::Plan(
            "json_get_str(json, key) takes two arguments".into(),
        ));
    };
    let key = match key {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(k))) => k.clone(),
        _ => {
            return Err(DataFusionError::Plan(
                "json_get_str: the key must be a text literal".into(),
            ));
        }
    };
    match json {
        ColumnarValue::Scalar(ScalarValue::Utf8(text)) => Ok(ColumnarValue::Scalar(
            ScalarValue::Utf8(text.as_deref().and_then(|t| lookup(t, &key))),
        )),
        ColumnarValue::Array(array) => {
            let strings = array
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    DataFusionError::Plan("json_get_str: the first argument must be text".into())
                })?;
            let mut out = StringBuilder::with_capacity(strings.len(), strings.len() * 16);
            for i in 0..strings.len() {
                let value = if strings.is_null(i) {
                    None
                } else {
                    lookup(strings.value(i), &key)
                };
                out.append_option(value);
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
        }
        other => Err(DataFusionError::Plan(format!(
            "json_get_str: expected text, got {}",
            other.data_type()
        ))),
    }
}

fn lookup(text: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let found = if key.starts_with('/') {
        value.pointer(key)?
    } else {
        value.get(key)?
    };
    match found {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn looks_up_top_level_keys() {
        assert_eq!(
            lookup(r#"{"a": "x", "b": 2, "c": null}"#, "a").as_deref(),
            Some("x")
        );
        assert_eq!(lookup(r#"{"a": "x", "b": 2}"#, "b").as_deref(), Some("2"));
        assert_eq!(lookup(r#"{"c": null}"#, "c"), None);
        assert_eq!(lookup("not json", "a"), None);
        assert_eq!(lookup("[1]", "a"), None);
        let nested = r#"{"price": {"amount": 1599, "currency": "USD"}}"#;
        assert_eq!(lookup(nested, "/price/amount").as_deref(), Some("1599"));
        assert_eq!(lookup(nested, "/price/currency").as_deref(), Some("USD"));
        assert_eq!(lookup(nested, "/price/missing"), None);
    }
}
