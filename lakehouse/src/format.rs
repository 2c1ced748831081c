use crate::Result;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::arrow::util::pretty::pretty_format_batches;

/// How query results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Csv,
    /// A JSON array of objects, one per row.
    Json,
}

/// Renders record batches for a terminal or a file.
pub fn format_batches(batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    match format {
        OutputFormat::Table => Ok(pretty_format_batches(batches)?.to_string()),
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = deltalake::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        OutputFormat::Json => {
            let mut out = Vec::new();
            {
                let mut writer = deltalake::arrow::json::ArrayWriter::new(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
            Ok(String::from_utf8_lossy(&out).into_owned() + "\n")
        }
    }
}

/// The rows as JSON objects named by column, one per row (none for no batches or empty ones).
pub fn json_rows(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>> {
    let text = format_batches(batches, OutputFormat::Json)?;
    serde_json::from_str(&text).map_err(|e| {
        deltalake::datafusion::error::DataFusionError::Execution(format!(
            "the rows could not be read back as JSON: {e}"
        ))
        .into()
    })
}

/// The batches as an Arrow IPC stream (what `pyarrow.ipc.open_stream` reads).
pub fn to_arrow_ipc(
    schema: &deltalake::arrow::datatypes::Schema,
    batches: &[RecordBatch],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = deltalake::arrow::ipc::writer::StreamWriter::try_new(&mut out, schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    Ok(out)
}

/// The batches as one Parquet file.
pub fn to_parquet(
    schema: deltalake::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = deltalake::parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)
            .map_err(|e| deltalake::arrow::error::ArrowError::ExternalError(Box::new(e)))?;
        for batch in batches {
            writer
                .write(batch)
                .map_err(|e| deltalake::arrow::error::ArrowError::ExternalError(Box::new(e)))?;
        }
        writer
            .close()
            .map_err(|e| deltalake::arrow::error::ArrowError::ExternalError(Box::new(e)))?;
    }
    Ok(out)
}
