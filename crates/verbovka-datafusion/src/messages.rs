//! Message tables: Telegram exports to Parquet, and a folder of Parquet or JSON Lines files
//! registered as a table.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampSecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{plan_err, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{JsonReadOptions, ParquetReadOptions, SessionContext};
use verbovka::telegram::Message;

/// Rows per Parquet row group (and per Arrow batch while writing): DataFusion splits a scan
/// into partitions along row groups, so a file of many groups is read by many tasks.
pub const ROWS_PER_GROUP: usize = 8192;

/// The columns a message table has: `chat` (title), `chat_id`, `id`, `date` (UTC seconds),
/// `author`, `text`. Everything but `id` and `text` may be null (exports leave them out).
pub fn messages_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("chat", DataType::Utf8, true),
        Field::new("chat_id", DataType::Int64, true),
        Field::new("id", DataType::Int64, false),
        Field::new(
            "date",
            DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            true,
        ),
        Field::new("author", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, false),
    ]))
}

/// Writes messages to one Parquet file ([`messages_schema`], zstd), a row group at a time, so
/// memory stays at one group whatever the export's size.
pub struct ParquetSink<W: Write + Send> {
    writer: ArrowWriter<W>,
    chat: StringBuilder,
    chat_id: Int64Builder,
    id: Int64Builder,
    date: TimestampSecondBuilder,
    author: StringBuilder,
    text: StringBuilder,
    pending: usize,
    rows: u64,
}

impl<W: Write + Send> ParquetSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Result<Self> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        Ok(ParquetSink {
            writer: ArrowWriter::try_new(out, messages_schema(), Some(props))?,
            chat: StringBuilder::new(),
            chat_id: Int64Builder::new(),
            id: Int64Builder::new(),
            date: TimestampSecondBuilder::new().with_timezone("UTC"),
            author: StringBuilder::new(),
            text: StringBuilder::new(),
            pending: 0,
            rows: 0,
        })
    }

    /// Adds one message.
    pub fn push(&mut self, m: &Message) -> Result<()> {
        self.chat.append_option(m.chat.name.as_deref());
        self.chat_id.append_option(m.chat.id);
        self.id.append_value(m.id);
        self.date.append_option(m.date_unixtime);
        self.author.append_option(m.author.as_deref());
        self.text.append_value(&m.text);
        self.pending += 1;
        self.rows += 1;
        if self.pending == ROWS_PER_GROUP {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.chat.finish()),
            Arc::new(self.chat_id.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.author.finish()),
            Arc::new(self.text.finish()),
        ];
        let batch = RecordBatch::try_new(messages_schema(), columns)?;
        self.writer.write(&batch)?;
        self.pending = 0;
        Ok(())
    }

    /// Writes what is left and the file's footer; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64> {
        self.flush_batch()?;
        self.writer.close()?;
        Ok(self.rows)
    }
}

/// How a path holds messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// `*.parquet` files.
    Parquet,
    /// JSON Lines: `*.jsonl`, `*.ndjson` or `*.json` files, one object per line.
    JsonLines(&'static str),
}

/// The format of a file, or of the files of a folder (by extension; a folder must hold one
/// kind).
pub fn detect_format(path: &Path) -> Result<TableFormat> {
    let of = |p: &Path| -> Option<TableFormat> {
        match p.extension()?.to_str()? {
            "parquet" => Some(TableFormat::Parquet),
            "jsonl" => Some(TableFormat::JsonLines(".jsonl")),
            "ndjson" => Some(TableFormat::JsonLines(".ndjson")),
            "json" => Some(TableFormat::JsonLines(".json")),
            _ => None,
        }
    };
    if path.is_file() {
        return match of(path) {
            Some(f) => Ok(f),
            None => plan_err!(
                "{}: not a .parquet, .jsonl, .ndjson or .json file",
                path.display()
            ),
        };
    }
    let entries = std::fs::read_dir(path).map_err(|e| {
        datafusion::error::DataFusionError::IoError(e).context(path.display().to_string())
    })?;
    let mut found: Option<TableFormat> = None;
    for entry in entries {
        let p = entry?.path();
        if let Some(f) = of(&p) {
            match found {
                None => found = Some(f),
                Some(g) if g != f => {
                    return plan_err!(
                        "{}: holds both {g:?} and {f:?} files; give one kind per table",
                        path.display()
                    )
                }
                Some(_) => {}
            }
        }
    }
    match found {
        Some(f) => Ok(f),
        None => plan_err!(
            "{}: no .parquet, .jsonl, .ndjson or .json file in this folder",
            path.display()
        ),
    }
}

/// Registers `path` (a file or a folder of Parquet or JSON Lines files) as table `name`.
/// Parquet keeps its schema; JSON Lines has its schema inferred from the first 1,000 lines.
///
/// On a Ballista cluster the path is listed here (the client) and read by the executors: it
/// must name the same files on every machine (a shared or copied folder, same path).
pub async fn register_messages(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> Result<TableFormat> {
    let format = detect_format(path)?;
    let mut location = path
        .canonicalize()
        .map_err(|e| {
            datafusion::error::DataFusionError::IoError(e).context(path.display().to_string())
        })?
        .display()
        .to_string();
    if path.is_dir() && !location.ends_with('/') {
        location.push('/'); // a folder, listed, not a file
    }
    match format {
        TableFormat::Parquet => {
            ctx.register_parquet(name, &location, ParquetReadOptions::default())
                .await?
        }
        TableFormat::JsonLines(ext) => {
            ctx.register_json(
                name,
                &location,
                JsonReadOptions::default().file_extension(ext),
            )
            .await?
        }
    }
    Ok(format)
}
