//! How rows are written into staging tables, and the limits the target's
//! `max_allowed_packet` puts on them (docs/managed.md).

use mysql_async::Value;

use super::discovery::Column;
use super::settings::ServerSettings;

/// How rows are written into staging tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMode {
    /// `LOAD DATA LOCAL INFILE` streamed from memory (fast).
    LoadData {
        /// The target's `max_allowed_packet`: no chunk of input, and no row,
        /// may be larger.
        max_packet: usize,
    },
    /// Multi-row INSERT statements of at most this many bytes.
    Insert {
        /// Statement size limit (below the server's `max_allowed_packet`).
        max_statement: usize,
        /// The target's `max_allowed_packet`: a row alone may use up to it.
        max_packet: usize,
    },
}

impl BulkMode {
    /// The mode the target's settings allow: LOAD DATA where `local_infile`
    /// is on, else INSERTs sized to its `max_allowed_packet`.
    pub fn for_server(settings: &ServerSettings) -> BulkMode {
        let max_packet = settings.max_allowed_packet;
        if settings.local_infile {
            return BulkMode::LoadData { max_packet };
        }
        // Room for the statement's head and the protocol; past 16 MB larger
        // statements gain nothing and cost memory.
        let max_statement = max_packet
            .saturating_sub(64 << 10)
            .clamp(64 << 10, 16 << 20)
            .min(max_packet.saturating_sub(ROW_SLACK));
        BulkMode::Insert {
            max_statement,
            max_packet,
        }
    }

    /// The largest row, as sent (INSERT tuple or LOAD DATA line), that the
    /// target takes: a row that does not fit in one packet cannot be written
    /// by WordPress either, so both paths refuse it (docs/managed.md).
    pub fn max_row(self) -> usize {
        self.max_packet().saturating_sub(ROW_SLACK)
    }

    /// The target's `max_allowed_packet`.
    pub fn max_packet(self) -> usize {
        match self {
            BulkMode::LoadData { max_packet } | BulkMode::Insert { max_packet, .. } => max_packet,
        }
    }
}

/// Bytes of a packet kept for the protocol around a statement or a row.
const ROW_SLACK: usize = 1 << 10;

/// `meta_id = 17` (every primary-key column, source values), or the row's
/// position when the table has no primary key.
pub(super) fn row_key(columns: &[Column], raw: &[Option<Value>], number: u64) -> String {
    let parts: Vec<String> = columns
        .iter()
        .zip(raw)
        .filter(|(c, _)| c.primary)
        .map(|(c, v)| {
            let shown = match v {
                None | Some(Value::NULL) => "NULL".to_string(),
                // Numbers arrive as text too: shown bare, as in SQL.
                Some(Value::Bytes(b)) if is_number(b) => String::from_utf8_lossy(b).into_owned(),
                Some(Value::Bytes(b)) => {
                    let s = String::from_utf8_lossy(b);
                    let short: String = s.chars().take(64).collect();
                    if short.len() < s.len() {
                        format!("'{short}…'")
                    } else {
                        format!("'{short}'")
                    }
                }
                Some(other) => other.as_sql(true),
            };
            format!("{} = {shown}", c.name)
        })
        .collect();
    if parts.is_empty() {
        format!("number {number} in the source's order (the table has no primary key)")
    } else {
        parts.join(", ")
    }
}

fn is_number(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 40
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(local_infile: bool, max_allowed_packet: usize) -> ServerSettings {
        ServerSettings {
            read_only: Vec::new(),
            local_infile,
            max_allowed_packet,
            requires_primary_key: None,
            table_caches: None,
        }
    }

    #[test]
    fn statements_and_rows_stay_below_the_packet_limit() {
        let m = BulkMode::for_server(&settings(false, 4 << 20));
        let BulkMode::Insert { max_statement, .. } = m else {
            panic!("{m:?}")
        };
        assert!(max_statement < 4 << 20 && m.max_row() < 4 << 20);
        assert!(
            m.max_row() >= max_statement,
            "a row alone may be a whole statement"
        );
        let big = BulkMode::for_server(&settings(false, 1 << 30));
        assert!(matches!(big, BulkMode::Insert { max_statement, .. } if max_statement == 16 << 20));
        assert_eq!(
            BulkMode::for_server(&settings(true, 4 << 20)),
            BulkMode::LoadData {
                max_packet: 4 << 20
            }
        );
    }

    #[test]
    fn row_keys_name_the_primary_key_or_the_position() {
        let col = |name: &str, primary| Column {
            name: name.into(),
            textual: false,
            auto_increment: false,
            primary,
        };
        let raw = vec![
            Some(Value::Bytes(b"17".to_vec())),
            Some(Value::Bytes(b"k".to_vec())),
        ];
        assert_eq!(
            row_key(&[col("meta_id", true), col("meta_key", false)], &raw, 3),
            "meta_id = 17"
        );
        assert_eq!(
            row_key(&[col("a", true), col("b", true)], &raw, 3),
            "a = 17, b = 'k'"
        );
        assert!(row_key(&[col("a", false), col("b", false)], &raw, 3).contains("number 3"));
    }
}
