//! What the dump's `CREATE TABLE` statements say about columns: per table
//! (and database), each column's name and whether its values are text that
//! may be replaced, bytes, or not text at all.
//!
//! Only the kind of each column is kept (plus its name, for INSERTs with a
//! column list), so memory grows with the schema, never with the data.

use std::collections::HashMap;

use crate::column::is_textual;

use super::tokens::Tok;

/// The most columns a table (or an INSERT column list) may have in MySQL;
/// anything longer is not a real definition and is not tracked.
pub(super) const MAX_COLUMNS: usize = 4096;

/// How a column's values are treated by the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnKind {
    /// CHAR, VARCHAR, the TEXT family, JSON: replaced, as env-migrate does.
    Textual,
    /// BINARY, VARBINARY, the BLOB family, BIT: raw bytes, passed through.
    Binary,
    /// Numbers, dates, ENUM, SET, spatial…: not text, passed through.
    Other,
}

impl ColumnKind {
    /// Classifies a column by its type name (`varchar`, `mediumblob`…),
    /// with the same textual test env-migrate applies to live databases.
    pub(super) fn of(data_type: &[u8]) -> ColumnKind {
        let name = String::from_utf8_lossy(data_type);
        if is_textual(&name) {
            ColumnKind::Textual
        } else if matches!(
            name.to_ascii_lowercase().as_str(),
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
        ) {
            ColumnKind::Binary
        } else {
            ColumnKind::Other
        }
    }
}

/// One column of a table definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    /// The column name (unquoted).
    pub(super) name: Vec<u8>,
    /// How its values are treated.
    pub(super) kind: ColumnKind,
}

/// Tables of one database, by name.
type Tables = HashMap<Vec<u8>, Vec<Column>>;

/// The column definitions seen so far, by database (`None` before any
/// `USE`) and table name.
#[derive(Debug, Default)]
pub(super) struct Schema {
    tables: HashMap<Option<Vec<u8>>, Tables>,
}

impl Schema {
    /// Records (or replaces) a table's columns.
    pub(super) fn define(&mut self, db: Option<Vec<u8>>, table: Vec<u8>, columns: Vec<Column>) {
        self.tables.entry(db).or_default().insert(table, columns);
    }

    /// Forgets a table whose new definition could not be read, so that
    /// stale column kinds are never applied to it.
    pub(super) fn forget(&mut self, db: &Option<Vec<u8>>, table: &[u8]) {
        if let Some(t) = self.tables.get_mut(db) {
            t.remove(table);
        }
    }

    /// The columns of a table, if its definition was seen.
    pub(super) fn columns(&self, db: &Option<Vec<u8>>, table: &[u8]) -> Option<&[Column]> {
        self.tables.get(db)?.get(table).map(Vec::as_slice)
    }
}

/// Where [`TableDef`] is within one item of the definition list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// At the start of an item: a column name or a key/constraint keyword.
    Start,
    /// After a column name: the type comes next.
    Type,
    /// Anything else up to the next top-level comma.
    Rest,
}

/// What one token did to a [`TableDef`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DefStep {
    /// The definition list continues.
    More,
    /// The closing parenthesis: the columns are complete.
    Done,
    /// Not a definition this parser can read (too many columns).
    Invalid,
}

/// The parenthesised definition list of a `CREATE TABLE`, read token by
/// token after its opening parenthesis.
#[derive(Debug)]
pub(super) struct TableDef {
    columns: Vec<Column>,
    depth: u32,
    item: Item,
    name: Vec<u8>,
}

impl Default for TableDef {
    fn default() -> Self {
        TableDef {
            columns: Vec::new(),
            depth: 1,
            item: Item::Start,
            name: Vec::new(),
        }
    }
}

/// Words that start an index or constraint item rather than a column.
const NOT_COLUMNS: &[&[u8]] = &[
    b"PRIMARY",
    b"KEY",
    b"INDEX",
    b"UNIQUE",
    b"CONSTRAINT",
    b"FOREIGN",
    b"FULLTEXT",
    b"SPATIAL",
    b"CHECK",
    b"PERIOD",
    b"VECTOR",
];

impl TableDef {
    /// Feeds one token of the definition list.
    pub(super) fn token(&mut self, tok: Tok<'_>) -> DefStep {
        match tok {
            Tok::Punct(b'(') => self.depth += 1,
            Tok::Punct(b')') => {
                self.depth -= 1;
                if self.depth == 0 {
                    self.end_item();
                    return DefStep::Done;
                }
            }
            Tok::Punct(b',') if self.depth == 1 => {
                self.end_item();
                self.item = Item::Start;
            }
            _ if self.depth != 1 => {}
            Tok::Ident(name) if self.item == Item::Start => self.start_column(name),
            Tok::Word(word) if self.item == Item::Start => {
                if NOT_COLUMNS.iter().any(|k| word.eq_ignore_ascii_case(k)) {
                    self.item = Item::Rest;
                } else {
                    self.start_column(word);
                }
            }
            Tok::Word(data_type) if self.item == Item::Type => {
                self.columns.push(Column {
                    name: std::mem::take(&mut self.name),
                    kind: ColumnKind::of(data_type),
                });
                self.item = Item::Rest;
            }
            _ => self.end_item(),
        }
        if self.columns.len() > MAX_COLUMNS {
            return DefStep::Invalid;
        }
        DefStep::More
    }

    /// The finished columns (after [`DefStep::Done`]).
    pub(super) fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    fn start_column(&mut self, name: &[u8]) {
        self.name.clear();
        self.name.extend_from_slice(name);
        self.item = Item::Type;
    }

    /// A column whose type was not a word still takes its position, as
    /// text: unknown means replaced, as before column tracking.
    fn end_item(&mut self) {
        if self.item == Item::Type {
            self.columns.push(Column {
                name: std::mem::take(&mut self.name),
                kind: ColumnKind::Textual,
            });
        }
        self.item = Item::Rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(ColumnKind::of(b"varchar"), ColumnKind::Textual);
        assert_eq!(ColumnKind::of(b"LONGTEXT"), ColumnKind::Textual);
        assert_eq!(ColumnKind::of(b"json"), ColumnKind::Textual);
        assert_eq!(ColumnKind::of(b"mediumblob"), ColumnKind::Binary);
        assert_eq!(ColumnKind::of(b"VARBINARY"), ColumnKind::Binary);
        assert_eq!(ColumnKind::of(b"bit"), ColumnKind::Binary);
        assert_eq!(ColumnKind::of(b"enum"), ColumnKind::Other);
        assert_eq!(ColumnKind::of(b"datetime"), ColumnKind::Other);
        assert_eq!(ColumnKind::of(b"bigint"), ColumnKind::Other);
    }
}
