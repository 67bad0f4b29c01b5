//! Rows of one table and their batched insertion.
//!
//! Values are always bound as parameters of multi-row `INSERT`s: one round trip
//! per batch keeps 200+ sites fast, and binding keeps arbitrary bytes (binary
//! columns, quotes, NULs in serialized property names) intact.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};

use wfuwp_engine::db::sql::{ident, ident_list};

/// Rows per `INSERT` at most.
const MAX_ROWS: usize = 500;
/// Parameter bytes per `INSERT` at most: well below a default 16 MB
/// `max_allowed_packet`, so the generator also works on stock servers.
const MAX_BYTES: usize = 4 << 20;

/// Rows destined for one table.
#[derive(Debug, Clone)]
pub struct TableData {
    /// Unquoted table name.
    pub name: String,
    /// Column names, in the order of each row's values.
    pub columns: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Vec<Value>>,
}

impl TableData {
    /// An empty table of `name` with `columns`.
    pub fn new(name: impl Into<String>, columns: &[&'static str]) -> Self {
        TableData {
            name: name.into(),
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; its length must match the columns (a generator bug otherwise).
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width for {}", self.name);
        self.rows.push(row);
    }

    /// Total bytes of the values (for reports).
    pub fn bytes(&self) -> u64 {
        self.rows
            .iter()
            .flatten()
            .map(|v| value_len(v) as u64)
            .sum()
    }
}

/// A text value.
pub fn text(s: impl Into<String>) -> Value {
    Value::Bytes(s.into().into_bytes())
}

/// A signed integer value.
pub fn int(i: i64) -> Value {
    Value::Int(i)
}

/// An unsigned integer value.
pub fn uint(u: u64) -> Value {
    Value::UInt(u)
}

/// Raw bytes (binary columns).
pub fn bytes(b: Vec<u8>) -> Value {
    Value::Bytes(b)
}

/// SQL NULL.
pub const NULL: Value = Value::NULL;

fn value_len(v: &Value) -> usize {
    match v {
        Value::Bytes(b) => b.len(),
        _ => 8,
    }
}

/// Inserts all rows of `data` in batches.
pub async fn insert(conn: &mut Conn, data: &TableData) -> Result<(), mysql_async::Error> {
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        ident(&data.name),
        ident_list(&data.columns)
    );
    let tuple = format!("({})", vec!["?"; data.columns.len()].join(", "));
    let mut start = 0;
    while start < data.rows.len() {
        let end = batch_end(&data.rows, start);
        let sql = format!("{head}{}", vec![tuple.as_str(); end - start].join(", "));
        let params: Vec<Value> = data.rows[start..end].iter().flatten().cloned().collect();
        conn.exec_drop(sql, Params::Positional(params)).await?;
        start = end;
    }
    Ok(())
}

/// End (exclusive) of the batch starting at `start`: at least one row, then as
/// many as fit in [`MAX_ROWS`] and [`MAX_BYTES`].
fn batch_end(rows: &[Vec<Value>], start: usize) -> usize {
    let mut bytes = 0;
    let mut end = start;
    while end < rows.len() && end - start < MAX_ROWS {
        let row_bytes: usize = rows[end].iter().map(value_len).sum();
        if end > start && bytes + row_bytes > MAX_BYTES {
            break;
        }
        bytes += row_bytes;
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_by_bytes_but_never_empty() {
        let big = vec![
            vec![bytes(vec![0; MAX_BYTES])],
            vec![bytes(vec![0; 10])],
            vec![int(1)],
        ];
        assert_eq!(batch_end(&big, 0), 1);
        assert_eq!(batch_end(&big, 1), 3);
    }
}
