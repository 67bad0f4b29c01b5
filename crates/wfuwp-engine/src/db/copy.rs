//! Copying one table from a source snapshot into a staging table on the target,
//! every row passing through the migration's rules ([`RowRules`], prepared
//! by the caller: [`crate::rules`]). This is transport: it never looks inside
//! a value.
//!
//! Rows stream from the source's result set into chunks of `LOAD DATA` input
//! that feed the target over a bounded channel, so memory stays bounded by a
//! few chunks whatever the table size. Where the server refuses `LOAD DATA
//! LOCAL`, multi-row INSERTs sized to `max_allowed_packet` are used instead.

use std::borrow::Cow;

use bytes::Bytes;
use futures_util::stream::StreamExt;
use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use tokio::sync::mpsc;

use super::bulk::{row_key, BulkMode};
use super::discovery::Column;
use super::sql::{ident, ident_list, load_data_statement, push_load_data_field, RowFilter};
use wfuwp_replace::push_quoted_literal;

/// Size of one chunk handed to the target (bytes).
const CHUNK: usize = 1 << 20;
/// Chunks buffered between reader and writer.
const CHANNEL_DEPTH: usize = 4;

/// What happens to a row's values between reading and writing: the
/// migration's rules ([`crate::rules::TableRules`]). The copy hands each row
/// over as read (in column order, `None` for NULL) and writes what comes back.
pub trait RowRules: Send {
    /// Rewrites one row's values in place.
    fn apply<'a>(&mut self, values: &mut [Option<Cow<'a, [u8]>>]);
}

/// What one table copy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Rows read from the source (and written to staging).
    pub rows: u64,
    /// Bytes of row data read.
    pub bytes: u64,
    /// CPU time spent in the rules (rewriting values).
    pub rules_time: std::time::Duration,
}

/// Why a table copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A server or connection error.
    #[error(transparent)]
    Db(#[from] mysql_async::Error),
    /// A row too large for the target's `max_allowed_packet`.
    #[error(
        "table {table}, row {key}: {row_bytes} bytes as sent (largest value: column {column}, {value_bytes} bytes), \
         more than the target's max_allowed_packet allows ({max_packet} bytes). Raise max_allowed_packet on the \
         target (a managed service: its parameter group) above {row_bytes}, or shrink that value in the source; \
         then resume the migration"
    )]
    RowTooLarge {
        /// Source table.
        table: String,
        /// The row's primary key (`id = 7`), or its position when it has none.
        key: String,
        /// The row as it would be sent.
        row_bytes: usize,
        /// Its largest column.
        column: String,
        /// That column's value, after replacement.
        value_bytes: usize,
        /// The target's `max_allowed_packet`.
        max_packet: usize,
    },
    /// The target did not receive every row.
    #[error("staging table {staging} holds {written} rows, but {read} were read from the source {table}")]
    RowCount {
        /// Source table.
        table: String,
        /// Staging table.
        staging: String,
        /// Rows read.
        read: u64,
        /// Rows the target reported.
        written: u64,
    },
}

/// `SHOW CREATE TABLE` of `table`, rewritten to create `new_name` instead.
pub async fn create_statement(
    source: &mut Conn,
    table: &str,
    new_name: &str,
) -> mysql_async::Result<String> {
    let row: Option<(String, String)> = source
        .query_first(format!("SHOW CREATE TABLE {}", ident(table)))
        .await?;
    let (_, create) = row.ok_or_else(|| {
        mysql_async::Error::Other(format!("SHOW CREATE TABLE {table} returned nothing").into())
    })?;
    Ok(renamed_create(table, new_name, &create))
}

/// Statements sent in one round trip when DDL is batched.
pub const DDL_BATCH: usize = 64;

/// `SHOW CREATE TABLE` of every `(table, new_name)`, rewritten to create
/// `new_name`: the same statements as [`create_statement`], fetched with one
/// round trip per [`DDL_BATCH`] tables (multi-statement query).
pub async fn create_statements(
    source: &mut Conn,
    tables: &[(&str, &str)],
) -> mysql_async::Result<Vec<String>> {
    let mut out = Vec::with_capacity(tables.len());
    for chunk in tables.chunks(DDL_BATCH) {
        let sql: String = chunk
            .iter()
            .map(|(t, _)| format!("SHOW CREATE TABLE {};", ident(t)))
            .collect();
        let mut result = source.query_iter(sql).await?;
        for (table, new_name) in chunk {
            let rows: Vec<(String, String)> = result.collect().await?;
            let (_, create) = rows.into_iter().next().ok_or_else(|| {
                mysql_async::Error::Other(
                    format!("SHOW CREATE TABLE {table} returned nothing").into(),
                )
            })?;
            out.push(renamed_create(table, new_name, &create));
        }
        result.drop_result().await?;
    }
    Ok(out)
}

/// Runs `statements` (DDL, no result sets) with one round trip per
/// [`DDL_BATCH`]; stops at the first error, which it returns.
pub async fn execute_batched(target: &mut Conn, statements: &[String]) -> mysql_async::Result<()> {
    for chunk in statements.chunks(DDL_BATCH) {
        target.query_drop(chunk.join(";\n")).await?;
    }
    Ok(())
}

/// `create` (a `CREATE TABLE` of `table`) creating `new_name` instead.
fn renamed_create(table: &str, new_name: &str, create: &str) -> String {
    let old = format!("CREATE TABLE {}", ident(table));
    let rest = create.strip_prefix(&old).unwrap_or(create);
    format!("CREATE TABLE {}{rest}", ident(new_name))
}

/// Streams every row of `table` (read on `source`, which should be inside a
/// consistent-snapshot transaction) into the existing `staging` table on `target`.
/// `filter`, if any, selects the rows copied.
#[allow(clippy::too_many_arguments)]
pub async fn copy_table<R: RowRules>(
    source: &mut Conn,
    target: &mut Conn,
    table: &str,
    staging: &str,
    columns: &[Column],
    filter: Option<&RowFilter>,
    rules: &mut R,
    mode: BulkMode,
) -> Result<CopyStats, CopyError> {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut select = format!("SELECT {} FROM {}", ident_list(&names), ident(table));
    if let Some(cond) = filter {
        select.push_str(" WHERE ");
        select.push_str(&cond.sql());
    }
    let job = TableCopy {
        table,
        select,
        staging,
        columns,
        mode,
    };
    let (stats, written) = match mode {
        BulkMode::LoadData { max_packet } => {
            load_data(source, target, &job, rules, max_packet).await?
        }
        BulkMode::Insert { max_statement, .. } => {
            insert_batches(source, target, &job, rules, max_statement).await?
        }
    };
    if written != stats.rows {
        return Err(CopyError::RowCount {
            table: table.into(),
            staging: staging.into(),
            read: stats.rows,
            written,
        });
    }
    Ok(stats)
}

/// One table's copy, as both write paths need it.
struct TableCopy<'a> {
    table: &'a str,
    select: String,
    staging: &'a str,
    columns: &'a [Column],
    mode: BulkMode,
}

impl TableCopy<'_> {
    /// Refuses row number `number` (1-based, source order) when, `row_bytes`
    /// long as sent (a one-row INSERT, or a line of LOAD DATA input), does
    /// not fit in one packet on the target.
    fn check_row(
        &self,
        raw: &[Option<Value>],
        values: &[Option<Cow<'_, [u8]>>],
        row_bytes: usize,
        number: u64,
    ) -> Result<(), CopyError> {
        if row_bytes <= self.mode.max_row() {
            return Ok(());
        }
        Err(self.too_large(raw, values, row_bytes, number))
    }

    #[cold]
    fn too_large(
        &self,
        raw: &[Option<Value>],
        values: &[Option<Cow<'_, [u8]>>],
        row_bytes: usize,
        number: u64,
    ) -> CopyError {
        let (column, value_bytes) = values
            .iter()
            .zip(self.columns)
            .map(|(v, c)| (c.name.clone(), v.as_ref().map_or(0, |b| b.len())))
            .max_by_key(|(_, n)| *n)
            .unwrap_or_default();
        CopyError::RowTooLarge {
            table: self.table.to_string(),
            key: row_key(self.columns, raw, number),
            row_bytes,
            column,
            value_bytes,
            max_packet: self.mode.max_packet(),
        }
    }
}

/// One row as read, as the rules take it: bytes borrowed, NULL as `None`.
fn row_values<'a>(
    values: &'a [Option<Value>],
    stats: &mut CopyStats,
) -> Vec<Option<Cow<'a, [u8]>>> {
    values
        .iter()
        .map(|v| match v {
            None | Some(Value::NULL) => None,
            Some(Value::Bytes(b)) => {
                stats.bytes += b.len() as u64;
                Some(Cow::Borrowed(&b[..]))
            }
            // The text protocol only yields bytes or NULL; anything else is formatted.
            Some(other) => Some(Cow::Owned(other.as_sql(true).into_bytes())),
        })
        .collect()
}

async fn load_data<R: RowRules>(
    source: &mut Conn,
    target: &mut Conn,
    job: &TableCopy<'_>,
    rules: &mut R,
    max_packet: usize,
) -> Result<(CopyStats, u64), CopyError> {
    // An empty table (WordPress has many: links, termmeta, commentmeta of
    // small sites) costs no LOAD DATA round trip: the staging table stays
    // empty, as it would after loading nothing.
    let mut result = source.query_iter(job.select.as_str()).await?;
    let Some(first) = result.next().await? else {
        return Ok((CopyStats::default(), 0));
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_DEPTH);
    // The handler must be Sync, so it captures the (Sync) receiver and builds
    // the (Send-only) stream when the server asks for the file.
    target.set_infile_handler(async move {
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    });
    let names: Vec<String> = job.columns.iter().map(|c| c.name.clone()).collect();
    let statement = load_data_statement(job.staging, &names);
    // Every chunk goes out as one packet, which the server refuses above
    // its max_allowed_packet: stay well below it.
    let chunk = CHUNK.min(max_packet / 2).max(1);

    let reader = async {
        let result = read_rows(result, first, job, rules, chunk, &tx).await;
        if let Err(e) = &result {
            // Make the LOAD DATA fail rather than commit a partial table.
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
        drop(tx);
        result
    };
    let writer = async {
        let r = target.query_drop(statement).await;
        (r, target.affected_rows())
    };
    let (read, (write, affected)) = tokio::join!(reader, writer);
    let stats = read?;
    write?;
    Ok((stats, affected))
}

/// Streams `first` and the rest of `result` as LOAD DATA input.
async fn read_rows<R: RowRules>(
    mut result: mysql_async::QueryResult<'_, 'static, mysql_async::TextProtocol>,
    first: mysql_async::Row,
    job: &TableCopy<'_>,
    rules: &mut R,
    chunk: usize,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<CopyStats, CopyError> {
    let mut stats = CopyStats::default();
    let mut buf = Vec::with_capacity(chunk + (64 << 10));
    let mut next = Some(first);
    while let Some(row) = next.take() {
        let raw = row.unwrap_raw();
        let mut values = row_values(&raw, &mut stats);
        let clock = std::time::Instant::now();
        rules.apply(&mut values);
        stats.rules_time += clock.elapsed();
        let start = buf.len();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            push_load_data_field(&mut buf, v.as_deref());
        }
        buf.push(b'\n');
        stats.rows += 1;
        job.check_row(&raw, &values, buf.len() - start, stats.rows)?;
        if buf.len() >= chunk {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(chunk + (64 << 10)));
            if !send_chunks(tx, full, chunk).await {
                // The writer stopped; its error is the one to report.
                break;
            }
        }
        next = result.next().await?;
    }
    drop(result);
    if !buf.is_empty() {
        send_chunks(tx, buf, chunk).await;
    }
    Ok(stats)
}

/// Sends `data` in pieces of at most `chunk` bytes (a large row makes the
/// buffer overshoot); `false` when the writer is gone.
async fn send_chunks(
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
    data: Vec<u8>,
    chunk: usize,
) -> bool {
    let mut data = Bytes::from(data);
    while !data.is_empty() {
        let piece = data.split_to(chunk.min(data.len()));
        crate::failpoints::hit("copy_chunk");
        if tx.send(Ok(piece)).await.is_err() {
            return false;
        }
    }
    true
}

async fn insert_batches<R: RowRules>(
    source: &mut Conn,
    target: &mut Conn,
    job: &TableCopy<'_>,
    rules: &mut R,
    max_statement: usize,
) -> Result<(CopyStats, u64), CopyError> {
    let names: Vec<String> = job.columns.iter().map(|c| c.name.clone()).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        ident(job.staging),
        ident_list(&names)
    );
    let mut stats = CopyStats::default();
    let mut written = 0u64;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut pending_len = head.len();
    let mut result = source.query_iter(job.select.as_str()).await?;
    while let Some(row) = result.next().await? {
        let raw = row.unwrap_raw();
        let mut values = row_values(&raw, &mut stats);
        rules.apply(&mut values);
        let tuple = sql_tuple(&values);
        stats.rows += 1;
        // Alone in a statement, the row must still fit in one packet.
        job.check_row(&raw, &values, head.len() + tuple.len(), stats.rows)?;
        if !pending.is_empty() && pending_len + tuple.len() + 1 > max_statement {
            // Writing while the source result is open is fine (another
            // connection) and keeps memory bounded to one statement.
            written += flush_insert(target, &head, &mut pending).await?;
            pending_len = head.len();
        }
        pending_len += tuple.len() + 1;
        pending.push(tuple);
    }
    drop(result);
    if !pending.is_empty() {
        written += flush_insert(target, &head, &mut pending).await?;
    }
    Ok((stats, written))
}

async fn flush_insert(
    target: &mut Conn,
    head: &str,
    pending: &mut Vec<Vec<u8>>,
) -> mysql_async::Result<u64> {
    crate::failpoints::hit("copy_chunk");
    let mut sql =
        Vec::with_capacity(head.len() + pending.iter().map(|t| t.len() + 1).sum::<usize>());
    sql.extend_from_slice(head.as_bytes());
    for (i, t) in pending.drain(..).enumerate() {
        if i > 0 {
            sql.push(b',');
        }
        sql.extend_from_slice(&t);
    }
    // The connection runs with `SET NAMES binary`, so arbitrary bytes are valid SQL text.
    target.query_drop(&sql[..]).await?;
    Ok(target.affected_rows())
}

/// `(v1, v2, …)` with each value a quoted, escaped literal or NULL.
fn sql_tuple(values: &[Option<Cow<'_, [u8]>>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        values
            .iter()
            .map(|v| v.as_ref().map_or(4, |b| b.len() + 3))
            .sum::<usize>()
            + 2,
    );
    out.push(b'(');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match v {
            None => out.extend_from_slice(b"NULL"),
            Some(bytes) => push_quoted_literal(&mut out, bytes),
        }
    }
    out.push(b')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped_like_mysqldump() {
        let mut out = Vec::new();
        push_quoted_literal(&mut out, b"it's \"a\\b\n\0\x1a\xff");
        assert_eq!(out, b"'it\\'s \\\"a\\\\b\\n\\0\\Z\xff'".to_vec());
        let t = sql_tuple(&[None, Some(Cow::Borrowed(&b"x"[..]))]);
        assert_eq!(t, b"(NULL,'x')".to_vec());
    }
}
