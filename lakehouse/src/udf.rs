//! SQL helpers registered in every lake session.

use deltalake::arrow::array::{Array, ArrayRef, ListBuilder, StringArray, StringBuilder};
use deltalake::arrow::datatypes::{DataType, Field};
use deltalake::datafusion::common::{DataFusionError, ScalarValue};
use deltalake::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use deltalake::datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers `json_get_str(json, key)`: the value of a top-level key of a JSON object as text
/// (strings unquoted, other values as JSON), or NULL when the text is not an object or lacks the key.
/// A key starting with `/` is a JSON pointer into nested values: `json_get_str(payload, '/price/amount')`.
///
/// Registers `json_get_array(json, key)` too: the elements of the array at `key` (a key or a JSON
/// pointer), each as JSON text, so `unnest(json_get_array(payload, '/lines'))` gives one row per
/// element; an empty list when there is no such array.
///
/// And `money_text(amount, currency)`: an amount in minor units as people read it in a
/// notification or a report, `money_text(3998, 'USD')` = `39.98 USD` (NULL when either is NULL).
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "money_text",
        vec![DataType::Int64, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(money_text),
    ));
    ctx.register_udf(create_udf(
        "json_get_str",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(json_get_str),
    ));
    ctx.register_udf(create_udf(
        "json_get_array",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        Volatility::Immutable,
        Arc::new(json_get_array),
    ));
}

fn money_text(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    use deltalake::arrow::array::Int64Array;
    use deltalake::arrow::compute::cast;
    let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let [amounts, currencies] = arrays.as_slice() else {
        return Err(DataFusionError::Plan(
            "money_text(amount, currency) takes two arguments".into(),
        ));
    };
    let amounts = cast(amounts, &DataType::Int64)?;
    let currencies = cast(currencies, &DataType::Utf8)?;
    let (Some(amounts), Some(currencies)) = (
        amounts.as_any().downcast_ref::<Int64Array>(),
        currencies.as_any().downcast_ref::<StringArray>(),
    ) else {
        return Err(DataFusionError::Plan(
            "money_text: an integer amount and a text currency".into(),
        ));
    };
    let texts: StringArray = (0..amounts.len())
        .map(|i| {
            (amounts.is_valid(i) && currencies.is_valid(i)).then(|| {
                let amount = amounts.value(i);
                let sign = if amount < 0 { "-" } else { "" };
                let abs = amount.unsigned_abs();
                format!(
                    "{sign}{}.{:02} {}",
                    abs / 100,
                    abs % 100,
                    currencies.value(i)
                )
            })
        })
        .collect();
    let texts: ArrayRef = Arc::new(texts);
    Ok(if all_scalars {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&texts, 0)?)
    } else {
        ColumnarValue::Array(texts)
    })
}

fn json_get_array(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let [json, key] = args else {
        return Err(DataFusionError::Plan(
            "json_get_array(json, key) takes two arguments".into(),
        ));
    };
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(key))) = key else {
        return Err(DataFusionError::Plan(
            "json_get_array: the key must be a text literal".into(),
        ));
    };
    let texts: Vec<Option<String>> = match json {
        ColumnarValue::Scalar(ScalarValue::Utf8(text)) => vec![text.clone()],
        ColumnarValue::Array(array) => {
            let strings = array
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    DataFusionError::Plan("json_get_array: the first argument must be text".into())
                })?;
            (0..strings.len())
                .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
                .collect()
        }
        other => {
            return Err(DataFusionError::Plan(format!(
                "json_get_array: expected text, got {}",
                other.data_type()
            )));
        }
    };
    let mut out = ListBuilder::new(StringBuilder::new());
    for text in &texts {
        for element in text
            .as_deref()
            .map(|t| elements(t, key))
            .unwrap_or_default()
        {
            out.values().append_value(element);
        }
        out.append(true);
    }
    let list: ArrayRef = Arc::new(out.finish());
    Ok(match json {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&list, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(list),
    })
}

/// The elements of the array at `key` in `text`, each as JSON text (strings unquoted).
fn elements(text: &str, key: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let found = if key.starts_with('/') {
        value.pointer(key)
    } else {
        value.get(key)
    };
    match found {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
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
    use super::{elements, lookup};

    #[tokio::test]
    async fn money_text_reads_minor_units() {
        let ctx = deltalake::datafusion::prelude::SessionContext::new();
        super::register(&ctx);
        let batches = ctx
            .sql(
                "SELECT money_text(amount, 'USD') AS t FROM (VALUES (3998), (5), (-150), (NULL)) AS v(amount)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let texts = crate::format_batches(&batches, crate::OutputFormat::Csv).unwrap();
        // The NULL amount gives NULL (an empty field, quoted so the line is not blank).
        assert_eq!(texts, "t\n39.98 USD\n0.05 USD\n-1.50 USD\n\"\"\n");
        let scalar = ctx
            .sql("SELECT money_text(100, 'EUR') AS t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let scalar = crate::format_batches(&scalar, crate::OutputFormat::Csv).unwrap();
        assert_eq!(scalar, "t\n1.00 EUR\n");
    }

    #[test]
    fn lists_array_elements() {
        let order = r#"{"lines": [{"product_id": "a", "quantity": 2}, {"product_id": "b"}], "tags": ["x"]}"#;
        let lines = elements(order, "/lines");
        assert_eq!(lines.len(), 2);
        assert_eq!(lookup(&lines[0], "quantity").as_deref(), Some("2"));
        assert_eq!(elements(order, "tags"), vec!["x".to_string()]);
        assert!(elements(order, "/missing").is_empty());
        assert!(elements("not json", "/lines").is_empty());
    }

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
