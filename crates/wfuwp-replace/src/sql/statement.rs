//! Follows the dump statement by statement to decide, for each string
//! literal, whether it holds replaceable text: `USE` sets the database,
//! `CREATE TABLE` records column kinds, and in the rows of `INSERT` /
//! `REPLACE … VALUES` a literal takes the kind of its column.
//!
//! Whatever is not understood is replaced, as before column tracking:
//! literals outside `VALUES` rows, rows of tables without a definition,
//! columns beyond the known ones. The one exception is `CREATE TABLE`: its
//! literals (ENUM and SET members, defaults, comments) pass untouched, as
//! env-migrate copies a table's definition as the source has it. Rewriting
//! an ENUM's members while its row values stay (they are not text) would
//! make every such value invalid for the new definition.

use super::schema::{ColumnKind, DefStep, Schema, TableDef, MAX_COLUMNS};
use super::tokens::{Tok, Tokenizer};

/// Said once when rows of a table without a definition are seen: every
/// literal of those rows is replaced, BLOB, ENUM and SET values included.
pub const NO_TABLE_DEFINITIONS: &str =
    "no table definitions: binary, ENUM and SET columns cannot be told apart from text, so their values \
     are replaced too; stream the table definitions first (`cat schema.sql data.sql | wfuwp search-replace …`, \
     schema.sql from mysqldump --no-data), or use --hex-blob for binary columns";

/// Where the head of an `INSERT`/`REPLACE` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertStep {
    /// `LOW_PRIORITY`, `IGNORE`, `INTO`… before the table name.
    Modifiers,
    /// After the table name.
    Name,
    /// After `db.`.
    AfterDot,
    /// Inside the column list, expecting a name (or a separator).
    Columns { expect_name: bool },
    /// After the column list.
    AfterColumns,
    /// After `VALUES`: the first row's parenthesis comes next.
    AfterValues,
}

/// Where the head of a `CREATE …` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateStep {
    /// `OR REPLACE`, `TEMPORARY` before `TABLE`.
    Modifiers,
    /// After `TABLE` (and `IF NOT EXISTS`).
    Table,
    /// After the table name.
    Name,
    /// After `db.`.
    AfterDot,
}

#[derive(Debug)]
enum Mode {
    /// Before the first word of a statement.
    Start,
    /// The rest of a statement that does not matter: only its end does.
    Skip,
    /// `USE db`.
    Use,
    Insert(InsertStep),
    Create(CreateStep),
    /// The definition list of a `CREATE TABLE`.
    Body(TableDef),
    /// The rows of an `INSERT … VALUES`: `depth` counts parentheses (1 inside
    /// a row), `col` is the current value's column within the row.
    Values {
        depth: u32,
        col: usize,
        expect_row: bool,
    },
}

/// The statement-level state (everything but the tokenizer, so that the
/// tokenizer can hand tokens to it).
#[derive(Debug)]
struct Parser {
    mode: Mode,
    schema: Schema,
    /// The database of the last `USE`.
    db: Option<Vec<u8>>,
    /// The name after `USE`.
    use_name: Option<Vec<u8>>,
    /// The table of the current INSERT or CREATE, and its `db.` qualifier.
    name: Vec<u8>,
    qualifier: Option<Vec<u8>>,
    /// The INSERT's column list, if it has one.
    list: Vec<Vec<u8>>,
    has_list: bool,
    /// Kind of each value position in the current INSERT's rows; empty
    /// when the table is unknown (then everything is replaced).
    kinds: Vec<ColumnKind>,
    /// Inside a `CREATE TABLE` statement: its literals are kept.
    table_definition: bool,
    noted_unknown: bool,
    note: Option<&'static str>,
}

/// Decides per literal whether it is replaced; fed every byte of the dump
/// outside literals and comments.
#[derive(Debug)]
pub(super) struct Tracker {
    tok: Tokenizer,
    p: Parser,
    /// After `/*!40101`-style openers: the version digits are not code.
    skip_digits: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            tok: Tokenizer::default(),
            p: Parser {
                mode: Mode::Start,
                schema: Schema::default(),
                db: None,
                use_name: None,
                name: Vec::new(),
                qualifier: None,
                list: Vec::new(),
                has_list: false,
                kinds: Vec::new(),
                table_definition: false,
                noted_unknown: false,
                note: None,
            },
            skip_digits: false,
        }
    }
}

fn is(word: &[u8], keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword.as_bytes())
}

impl Tracker {
    /// Code bytes (including backtick identifiers, quotes and all).
    pub(super) fn code(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.skip_digits {
                if bytes[i].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                self.skip_digits = false;
            }
            i = match self.p.mode {
                Mode::Values { .. } => self.values(bytes, i),
                Mode::Skip => self.skip(bytes, i),
                _ => {
                    let p = &mut self.p;
                    self.tok.step(bytes[i], &mut |t| p.token(t));
                    i + 1
                }
            };
        }
    }

    /// A comment: separates tokens.
    pub(super) fn separator(&mut self) {
        self.skip_digits = false;
        if !matches!(self.p.mode, Mode::Values { .. } | Mode::Skip) {
            let p = &mut self.p;
            self.tok.flush(&mut |t| p.token(t));
        }
    }

    /// A `/*!NNNNN` or `/*M!NNNNNN` opener: its contents are code.
    pub(super) fn versioned(&mut self) {
        self.separator();
        self.skip_digits = true;
    }

    /// A string literal opens here: whether its text is replaced.
    pub(super) fn literal(&mut self) -> bool {
        self.skip_digits = false;
        match self.p.mode {
            Mode::Values { depth: 0, .. } => {
                // Not in a row (`ON DUPLICATE KEY UPDATE …`): not understood.
                self.p.mode = Mode::Skip;
                true
            }
            Mode::Values { col, .. } => self
                .p
                .kinds
                .get(col)
                .is_none_or(|&k| k == ColumnKind::Textual),
            Mode::Skip => !self.p.table_definition,
            _ => {
                let p = &mut self.p;
                self.tok.flush(&mut |t| p.token(t));
                self.p.token(Tok::Literal);
                !self.p.table_definition
            }
        }
    }

    /// At the end of the input: whether a statement was begun and not ended.
    pub(super) fn unfinished_statement(&mut self) -> bool {
        self.separator();
        !matches!(self.p.mode, Mode::Start)
    }

    /// A note for the user, once, when one became due.
    pub(super) fn take_note(&mut self) -> Option<&'static str> {
        self.p.note.take()
    }

    /// The rows of an INSERT: only parentheses, commas and the end matter.
    fn values(&mut self, bytes: &[u8], from: usize) -> usize {
        let Mode::Values {
            mut depth,
            mut col,
            mut expect_row,
        } = self.p.mode
        else {
            return from;
        };
        let mut quoted = self.tok.quoted;
        let mut i = from;
        let mut end = false;
        let mut skip = false;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if quoted {
                quoted = b != b'`';
                continue;
            }
            match b {
                b'`' => quoted = true,
                b';' => {
                    end = true;
                    break;
                }
                b'(' if depth == 0 && !expect_row => {
                    skip = true;
                    break;
                }
                b'(' => {
                    if depth == 0 {
                        expect_row = false;
                        col = 0;
                    }
                    depth += 1;
                }
                b')' if depth == 0 => {
                    skip = true;
                    break;
                }
                b')' => depth -= 1,
                b',' if depth == 1 => col += 1,
                b',' if depth == 0 && !expect_row => expect_row = true,
                b' ' | b'\t' | b'\n' | b'\r' => {}
                _ if depth == 0 => {
                    skip = true;
                    break;
                }
                _ => {}
            }
        }
        self.tok.quoted = quoted;
        if end {
            self.end_statement();
        } else if skip {
            self.p.mode = Mode::Skip;
        } else {
            self.p.mode = Mode::Values {
                depth,
                col,
                expect_row,
            };
        }
        i
    }

    /// The rest of an uninteresting statement: up to a `;` outside backticks.
    fn skip(&mut self, bytes: &[u8], from: usize) -> usize {
        let mut quoted = self.tok.quoted;
        for (i, &b) in bytes.iter().enumerate().skip(from) {
            if b == b'`' {
                quoted = !quoted;
            } else if b == b';' && !quoted {
                self.tok.quoted = false;
                self.end_statement();
                return i + 1;
            }
        }
        self.tok.quoted = quoted;
        bytes.len()
    }

    fn end_statement(&mut self) {
        self.p.end_statement();
        self.tok.reset();
    }
}

impl Parser {
    fn token(&mut self, tok: Tok<'_>) {
        if tok == Tok::Punct(b';') {
            self.end_statement();
            return;
        }
        match &mut self.mode {
            Mode::Start => self.start(tok),
            Mode::Use => match tok {
                Tok::Word(n) | Tok::Ident(n) if self.use_name.is_none() => {
                    self.use_name = Some(n.to_vec());
                }
                _ => {
                    self.use_name = None;
                    self.mode = Mode::Skip;
                }
            },
            Mode::Insert(step) => {
                let step = *step;
                self.insert(step, tok);
            }
            Mode::Create(step) => {
                let step = *step;
                self.create(step, tok);
            }
            Mode::Body(def) => match def.token(tok) {
                DefStep::More => {}
                DefStep::Done => {
                    let Mode::Body(def) = std::mem::replace(&mut self.mode, Mode::Skip) else {
                        return;
                    };
                    let db = self.table_db().clone();
                    self.schema
                        .define(db, std::mem::take(&mut self.name), def.into_columns());
                }
                DefStep::Invalid => self.forget_table(),
            },
            // Tokens reach these only from the byte that switched to them.
            Mode::Skip | Mode::Values { .. } => {}
        }
    }

    fn start(&mut self, tok: Tok<'_>) {
        self.mode = match tok {
            Tok::Word(w) if is(w, "INSERT") || is(w, "REPLACE") => {
                self.take_name(b"");
                self.qualifier = None;
                self.list.clear();
                self.has_list = false;
                Mode::Insert(InsertStep::Modifiers)
            }
            Tok::Word(w) if is(w, "CREATE") => {
                self.take_name(b"");
                self.qualifier = None;
                Mode::Create(CreateStep::Modifiers)
            }
            Tok::Word(w) if is(w, "USE") => {
                self.use_name = None;
                Mode::Use
            }
            _ => Mode::Skip,
        };
    }

    fn insert(&mut self, step: InsertStep, tok: Tok<'_>) {
        use InsertStep::*;
        let next = match (step, tok) {
            (Modifiers, Tok::Word(w))
                if ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"]
                    .iter()
                    .any(|k| is(w, k)) =>
            {
                Modifiers
            }
            (Modifiers | AfterDot, Tok::Word(n) | Tok::Ident(n)) => {
                self.take_name(n);
                Name
            }
            (Name, Tok::Punct(b'.')) if self.qualifier.is_none() => {
                self.qualify_name();
                AfterDot
            }
            (Name, Tok::Punct(b'(')) => {
                self.has_list = true;
                Columns { expect_name: true }
            }
            (Name | AfterColumns, Tok::Word(w)) if is(w, "VALUES") || is(w, "VALUE") => AfterValues,
            (Columns { expect_name: true }, Tok::Word(n) | Tok::Ident(n))
                if self.list.len() < MAX_COLUMNS =>
            {
                self.list.push(n.to_vec());
                Columns { expect_name: false }
            }
            (Columns { expect_name: false }, Tok::Punct(b',')) => Columns { expect_name: true },
            (Columns { expect_name: false }, Tok::Punct(b')')) => AfterColumns,
            (AfterValues, Tok::Punct(b'(')) => {
                self.begin_values();
                return;
            }
            _ => {
                self.mode = Mode::Skip;
                return;
            }
        };
        self.mode = Mode::Insert(next);
    }

    fn create(&mut self, step: CreateStep, tok: Tok<'_>) {
        use CreateStep::*;
        let next = match (step, tok) {
            (Modifiers, Tok::Word(w)) if is(w, "OR") || is(w, "REPLACE") || is(w, "TEMPORARY") => {
                Modifiers
            }
            (Modifiers, Tok::Word(w)) if is(w, "TABLE") => {
                self.table_definition = true;
                Table
            }
            (Table, Tok::Word(w)) if is(w, "IF") || is(w, "NOT") || is(w, "EXISTS") => Table,
            (Table | AfterDot, Tok::Word(n) | Tok::Ident(n)) => {
                self.take_name(n);
                Name
            }
            (Name, Tok::Punct(b'.')) if self.qualifier.is_none() => {
                self.qualify_name();
                AfterDot
            }
            (Name, Tok::Punct(b'(')) => {
                self.mode = Mode::Body(TableDef::default());
                return;
            }
            (Name, _) => {
                // `CREATE TABLE t LIKE s`, `… AS SELECT`: columns unknown.
                self.forget_table();
                return;
            }
            _ => {
                self.mode = Mode::Skip;
                return;
            }
        };
        self.mode = Mode::Create(next);
    }

    /// The statement's table name so far (INSERT and CREATE heads alike).
    fn take_name(&mut self, n: &[u8]) {
        self.name.clear();
        self.name.extend_from_slice(n);
    }

    /// `db.` before the table name: what looked like the name was the database.
    fn qualify_name(&mut self) {
        self.qualifier = Some(std::mem::take(&mut self.name));
    }

    /// The database the current statement's table is in.
    fn table_db(&self) -> &Option<Vec<u8>> {
        if self.qualifier.is_some() {
            &self.qualifier
        } else {
            &self.db
        }
    }

    fn forget_table(&mut self) {
        let db = self.table_db().clone();
        self.schema.forget(&db, &self.name);
        self.mode = Mode::Skip;
    }

    /// The first row opens: work out the kind of each value position.
    fn begin_values(&mut self) {
        self.kinds.clear();
        match self.schema.columns(self.table_db(), &self.name) {
            None => {
                if !self.noted_unknown {
                    self.noted_unknown = true;
                    self.note = Some(NO_TABLE_DEFINITIONS);
                }
            }
            Some(columns) if !self.has_list => {
                self.kinds.extend(columns.iter().map(|c| c.kind));
            }
            Some(columns) => {
                for name in &self.list {
                    let kind = columns
                        .iter()
                        .find(|c| c.name.eq_ignore_ascii_case(name))
                        .map_or(ColumnKind::Textual, |c| c.kind);
                    self.kinds.push(kind);
                }
            }
        }
        self.mode = Mode::Values {
            depth: 1,
            col: 0,
            expect_row: false,
        };
    }

    fn end_statement(&mut self) {
        self.table_definition = false;
        match std::mem::replace(&mut self.mode, Mode::Start) {
            Mode::Use => {
                if let Some(db) = self.use_name.take() {
                    self.db = Some(db);
                }
            }
            // A definition cut short: what was read of it cannot be trusted.
            Mode::Body(_) => {
                let db = self.table_db().clone();
                self.schema.forget(&db, &self.name);
            }
            _ => {}
        }
    }
}
