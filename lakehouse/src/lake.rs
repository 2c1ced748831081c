use crate::table_name::{Layer, TableName};
use crate::udf;
use crate::{Error, Result};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::catalog::MemorySchemaProvider;
use deltalake::datafusion::execution::context::SQLOptions;
use deltalake::datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::{DeltaTable, DeltaTableError};
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

/// The root of the lakehouse: every table lives at `<root>/<layer>/<name>/`.
#[derive(Clone, Debug)]
pub struct Lake {
    root: Url,
}

impl Lake {
    /// Opens the lake at a URL (`file:///…`) or a local path, creating a local directory if needed.
    pub fn open(location: &str) -> Result<Self> {
        let bad = |reason: String| Error::Location {
            location: location.to_string(),
            reason,
        };
        let mut root = match Url::parse(location) {
            Ok(url) if url.scheme().len() > 1 => url,
            _ => {
                let path = PathBuf::from(location);
                std::fs::create_dir_all(&path)?;
                let path = path.canonicalize()?;
                Url::from_directory_path(&path)
                    .map_err(|()| bad("not an absolute directory path".into()))?
            }
        };
        match root.scheme() {
            "file" => {
                let path = root
                    .to_file_path()
                    .map_err(|()| bad("not a local path".into()))?;
                std::fs::create_dir_all(&path)?;
            }
            #[cfg(feature = "s3")]
            "s3" | "s3a" => {}
            #[cfg(feature = "azure")]
            "az" | "abfs" | "abfss" | "azure" => {}
            #[cfg(feature = "gcs")]
            "gs" => {}
            other => {
                let built: Vec<&str> = [
                    (cfg!(feature = "s3"), "s3://bucket/path"),
                    (cfg!(feature = "azure"), "az://container/path"),
                    (cfg!(feature = "gcs"), "gs://bucket/path"),
                ]
                .into_iter()
                .filter_map(|(built, example)| built.then_some(example))
                .collect();
                return Err(bad(format!(
                    "the '{other}' scheme is not built into this binary; use a local directory{}{}",
                    if built.is_empty() { "" } else { " or " },
                    built.join(", ")
                )));
            }
        }
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(Lake { root })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// Where a table's files live.
    pub fn table_url(&self, table: &TableName) -> Url {
        self.root
            .join(&format!("{}/{}/", table.layer().as_str(), table.name()))
            .expect("table names are validated url path segments")
    }

    fn local_dir(&self) -> Option<PathBuf> {
        self.root.to_file_path().ok()
    }

    /// Opens a table at its latest version, or `None` if nobody has created it yet.
    pub async fn open_table(&self, table: &TableName) -> Result<Option<DeltaTable>> {
        if !self.exists(table).await? {
            return Ok(None);
        }
        self.load(table).await
    }

    /// Loads a table known to have a Delta log (as [`Lake::tables`] lists them) at its latest
    /// version, without looking for the log again; `None` if it vanished meanwhile.
    pub(crate) async fn load(&self, table: &TableName) -> Result<Option<DeltaTable>> {
        match deltalake::open_table(self.table_url(table)).await {
            Ok(t) => Ok(Some(t)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(Error::delta(table, e)),
        }
    }

    /// Opens a table, or `Err(NoSuchTable)`.
    pub async fn require_table(&self, table: &TableName) -> Result<DeltaTable> {
        self.open_table(table)
            .await?
            .ok_or_else(|| Error::NoSuchTable(table.to_string()))
    }

    /// Opens a table, creating it empty with `schema` and `partitions` if it does not exist.
    pub async fn open_or_create(
        &self,
        table: &TableName,
        schema: SchemaRef,
        partitions: &[&str],
    ) -> Result<DeltaTable> {
        if let Some(existing) = self.open_table(table).await? {
            return Ok(existing);
        }
        let kernel: StructType = schema
            .as_ref()
            .try_into_kernel()
            .map_err(|e| Error::delta(table, e.into()))?;
        if let Some(dir) = self.local_path(table) {
            std::fs::create_dir_all(dir)?;
        }
        // Build without loading: there is no log to load yet.
        let empty = deltalake::DeltaTableBuilder::from_url(self.table_url(table))
            .and_then(|b| b.build())
            .map_err(|e| Error::delta(table, e))?;
        let created = empty
            .create()
            .with_table_name(table.to_string())
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(partitions.iter().map(|p| p.to_string()))
            .with_save_mode(deltalake::protocol::SaveMode::Ignore)
            .await;
        match created {
            Ok(t) => Ok(t),
            // Another writer created it between our look and our commit: use theirs.
            Err(DeltaTableError::VersionAlreadyExists(_)) => self.require_table(table).await,
            Err(e) => Err(Error::delta(table, e)),
        }
    }

    /// The last version an application recorded in a table's commits (its `txn`), if any.
    pub async fn transaction_version(
        &self,
        table: &DeltaTable,
        app_id: &str,
    ) -> Result<Option<i64>> {
        let snapshot = table
            .snapshot()
            .map_err(|e| Error::delta(table.table_url(), e))?;
        snapshot
            .transaction_version(table.log_store().as_ref(), app_id)
            .await
            .map_err(|e| Error::delta(table.table_url(), e))
    }

    /// Every table that exists in the lake, by layer and name.
    pub async fn tables(&self) -> Result<Vec<TableName>> {
        let mut tables = Vec::new();
        for layer in Layer::ALL {
            for name in self.list_dirs(layer.as_str()).await? {
                if let Ok(table) = TableName::new(layer, &name)
                    && self.exists(&table).await?
                {
                    tables.push(table);
                }
            }
        }
        tables.sort();
        Ok(tables)
    }

    /// Whether `table` has a Delta log.
    async fn exists(&self, table: &TableName) -> Result<bool> {
        if let Some(dir) = self.local_path(table) {
            return Ok(dir.join("_delta_log").is_dir());
        }
        let log = format!("{}/{}/_delta_log", table.layer().as_str(), table.name());
        let listed = self
            .store()?
            .list_with_delimiter(Some(&deltalake::Path::from(log)))
            .await
            .map_err(|e| Error::delta(table, e.into()))?;
        Ok(!listed.objects.is_empty())
    }

    /// The names of the folders directly under `prefix` of the lake's root.
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        if let Some(root) = self.local_dir() {
            let Ok(entries) = std::fs::read_dir(root.join(prefix)) else {
                return Ok(Vec::new());
            };
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry?;
                if entry.file_type()?.is_dir()
                    && let Some(name) = entry.file_name().to_str()
                {
                    names.push(name.to_string());
                }
            }
            return Ok(names);
        }
        let listed = self
            .store()?
            .list_with_delimiter(Some(&deltalake::Path::from(prefix)))
            .await
            .map_err(|e| Error::delta(self.root.as_str(), e.into()))?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Writes a file (a model artifact, say) at `key` under the lake's root, outside any table.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        use deltalake::logstore::object_store::ObjectStoreExt as _;
        self.store()?
            .put(&deltalake::Path::from(key), bytes.into())
            .await
            .map_err(|e| Error::delta(key, e.into()))?;
        Ok(())
    }

    /// Reads the file at `key` under the lake's root.
    pub async fn get_object(&self, key: &str) -> Result<Vec<u8>> {
        use deltalake::logstore::object_store::ObjectStoreExt as _;
        let got = self
            .store()?
            .get(&deltalake::Path::from(key))
            .await
            .map_err(|e| Error::delta(key, e.into()))?;
        let bytes = got.bytes().await.map_err(|e| Error::delta(key, e.into()))?;
        Ok(bytes.to_vec())
    }

    /// The object store under the lake's root.
    fn store(&self) -> Result<Arc<dyn deltalake::ObjectStore>> {
        let storage = deltalake::DeltaTableBuilder::from_url(self.root.clone())
            .and_then(|b| b.build_storage())
            .map_err(|e| Error::delta(self.root.as_str(), e))?;
        Ok(storage.object_store(None))
    }

    /// A DataFusion session with every table of the lake registered under `bronze`, `silver` and
    /// `gold`, at its latest version, plus the lake's SQL functions.
    pub async fn session(&self) -> Result<SessionContext> {
        Ok(self.session_with_versions().await?.0)
    }

    /// Like [`Lake::session`], with each table's version as it was loaded (each table is loaded
    /// once).
    pub async fn session_with_versions(&self) -> Result<(SessionContext, Vec<(TableName, u64)>)> {
        let ctx = self.empty_session();
        let mut versions = Vec::new();
        for name in self.tables().await? {
            if let Some(table) = self.load(&name).await? {
                versions.push((name.clone(), table.version().unwrap_or(0)));
                self.register(&ctx, &name, table).await?;
            }
        }
        Ok((ctx, versions))
    }

    /// A session with only `tables` registered, each at the version it was loaded: for a query
    /// that reads those (and to know which versions it read).
    pub async fn session_with(
        &self,
        tables: Vec<(TableName, DeltaTable)>,
    ) -> Result<SessionContext> {
        let ctx = self.empty_session();
        for (name, table) in tables {
            self.register(&ctx, &name, table).await?;
        }
        Ok(ctx)
    }

    /// A session with the schemas `bronze`, `silver` and `gold` and the lake's SQL functions, but
    /// no tables yet.
    pub(crate) fn empty_session(&self) -> SessionContext {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("datafusion", "public");
        let ctx = SessionContext::new_with_config(config);
        udf::register(&ctx);
        let catalog = ctx
            .catalog("datafusion")
            .expect("the default catalog always exists");
        for layer in Layer::ALL {
            catalog
                .register_schema(layer.as_str(), Arc::new(MemorySchemaProvider::new()))
                .expect("registering a schema in a memory catalog cannot fail");
        }
        ctx
    }

    /// Registers `table` (at whatever version it is loaded) as `<layer>.<name>` in `ctx`.
    pub(crate) async fn register(
        &self,
        ctx: &SessionContext,
        name: &TableName,
        table: DeltaTable,
    ) -> Result<()> {
        table
            .update_datafusion_session(&ctx.state())
            .map_err(|e| Error::delta(name, e))?;
        let provider = Arc::new(crate::scan::FilterAbove::new(table.table_provider().await?));
        let schema = ctx
            .catalog("datafusion")
            .and_then(|c| c.schema(name.layer().as_str()))
            .expect("empty_session registers every layer");
        schema.register_table(name.name().to_string(), provider)?;
        Ok(())
    }

    /// The local directory of a table, when the lake is on the local disk.
    pub fn local_path(&self, table: &TableName) -> Option<PathBuf> {
        self.table_url(table).to_file_path().ok()
    }
}

/// Plans one read-only SQL statement: DDL, DML and `SET`-style statements are refused.
pub async fn plan(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    Ok(ctx.sql_with_options(sql, options).await?)
}

/// Runs one read-only SQL statement (see [`plan`]) and collects its rows.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(plan(ctx, sql).await?.collect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Int64Array, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};
    use deltalake::kernel::Transaction;
    use deltalake::kernel::transaction::CommitProperties;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("payload", DataType::Utf8, true),
        ]))
    }

    fn batch(ids: &[i64]) -> RecordBatch {
        let payloads: Vec<String> = ids.iter().map(|i| format!(r#"{{"n": "{i}"}}"#)).collect();
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(payloads)),
            ],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn creates_writes_lists_and_queries_tables() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::bronze("things").unwrap();
        assert!(lake.open_table(&name).await.unwrap().is_none());
        let table = lake.open_or_create(&name, schema(), &[]).await.unwrap();
        assert_eq!(lake.transaction_version(&table, "app").await.unwrap(), None);
        let table = table
            .write(vec![batch(&[1, 2, 3])])
            .with_commit_properties(
                CommitProperties::default()
                    .with_application_transaction(Transaction::new("app", 3)),
            )
            .await
            .unwrap();
        assert_eq!(
            lake.transaction_version(&table, "app").await.unwrap(),
            Some(3)
        );
        // Creating again opens what is there.
        let again = lake.open_or_create(&name, schema(), &[]).await.unwrap();
        assert_eq!(again.version(), table.version());
        assert_eq!(lake.tables().await.unwrap(), vec![name]);

        let ctx = lake.session().await.unwrap();
        let rows = query(
            &ctx,
            "select count(*) as n, max(json_get_str(payload, 'n')) as top from bronze.things",
        )
        .await
        .unwrap();
        let printed = crate::format_batches(&rows, crate::OutputFormat::Json).unwrap();
        assert_eq!(printed.trim(), r#"[{"n":3,"top":"3"}]"#);
        let refused = query(&ctx, "drop table bronze.things").await;
        assert!(refused.is_err(), "DDL must be refused");
        assert!(
            query(&ctx, "insert into bronze.things values (4, null)")
                .await
                .is_err()
        );
    }

    #[test]
    fn refuses_unknown_schemes() {
        assert!(matches!(
            Lake::open("ftp://example/lake"),
            Err(Error::Location { .. })
        ));
    }
}
