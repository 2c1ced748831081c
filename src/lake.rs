//! `marketplace lake …`: look after the lakehouse's tables by hand (`serve` also does it on its own).

use anyhow::Context as _;
use lakehouse::{AsOf, Lake, OutputFormat, TableName};
use std::time::Duration;

#[derive(clap::Subcommand, Clone, Debug)]
pub enum LakeCmd {
    /// The tables of the lake, with their versions and file counts.
    Tables,
    /// The latest commits of a table, newest first.
    History {
        /// e.g. `bronze.activity`.
        table: TableName,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Compact small files into large ones, then checkpoint.
    Optimize {
        /// One table, or every table of the lake when left out.
        table: Option<TableName>,
    },
    /// Delete files that no version inside the retention window needs.
    Vacuum {
        table: TableName,
        /// The retention window in hours (at least the table's own minimum, 168 by default).
        #[arg(long, default_value_t = 168)]
        retain_hours: u64,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a checkpoint of the current version.
    Checkpoint { table: TableName },
    /// Make an old version current again; the writers' bookmarks move back with it, so the lake
    /// sink or pipeline writing the table re-derives what followed from its source.
    Restore {
        table: TableName,
        /// A version number or an RFC 3339 time.
        #[arg(long)]
        to: AsOf,
    },
}

pub async fn run(command: LakeCmd, lake: &Lake) -> anyhow::Result<()> {
    match command {
        LakeCmd::Tables => {
            println!("{:<28} {:>8} {:>8}", "table", "version", "files");
            for name in lake.tables().await? {
                let table = lake.require_table(&name).await?;
                let files = table
                    .snapshot()
                    .map(|s| s.log_data().num_files())
                    .unwrap_or(0);
                println!(
                    "{:<28} {:>8} {:>8}",
                    name.to_string(),
                    table.version().unwrap_or(0),
                    files
                );
            }
        }
        LakeCmd::History { table, limit } => {
            let history = lake.history(&table, limit).await?;
            println!(
                "{}",
                lakehouse::format_batches(&[history], OutputFormat::Table)?.trim_end()
            );
        }
        LakeCmd::Optimize { table } => {
            let tables = match table {
                Some(table) => vec![table],
                None => lake.tables().await?,
            };
            for name in tables {
                let report = lake
                    .optimize(&name)
                    .await
                    .with_context(|| format!("optimizing {name}"))?;
                match report.version {
                    Some(version) => println!(
                        "{name}: {} files → {} (removed {}, added {}), version {version}, checkpointed",
                        report.files_before,
                        report.files_after,
                        report.files_removed,
                        report.files_added
                    ),
                    None => println!("{name}: {} files, nothing to compact", report.files_before),
                }
            }
        }
        LakeCmd::Vacuum {
            table,
            retain_hours,
            dry_run,
        } => {
            let report = lake
                .vacuum(&table, Duration::from_secs(retain_hours * 3600), dry_run)
                .await?;
            let verb = if report.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            println!("{table}: {verb} {} files", report.files_deleted.len());
            for file in &report.files_deleted {
                println!("  {file}");
            }
        }
        LakeCmd::Checkpoint { table } => {
            let version = lake.checkpoint(&table).await?;
            println!("{table}: checkpoint written at version {version}");
        }
        LakeCmd::Restore { table, to } => {
            let report = lake.restore(&table, to).await?;
            println!(
                "{table}: version {} restored as version {} ({} files back, {} removed)",
                report.restored, report.version, report.files_restored, report.files_removed
            );
            for (app, version) in &report.bookmarks {
                println!("  writer {app} set back to {version}");
            }
        }
    }
    Ok(())
}
