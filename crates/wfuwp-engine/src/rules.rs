//! What happens to each value on its way from the source to the target: the
//! migration's rules, prepared once per run ([`RunRules`]) and once per
//! table ([`TableRules`]), applied by the table copy to every row it streams
//! (the copy itself only moves bytes, [`crate::db::copy`]).
//!
//! The rules are the search-replace of textual columns (docs/replace.md),
//! then the target's scrub rules ([`crate::scrub`], docs/scrub.md), then the
//! leftover audit of what is written (docs/hosts.md). A table's rules are one object prepared before its
//! first row, so a rule that depends on the table or the column (a value to
//! scrub, a value to keep) is decided once per table, not per row, and a
//! check that reads every value after the rules (a scan for what should not
//! be left) sees exactly what is written (docs/architecture.md, "Where a new
//! feature goes").

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wfuwp_replace::leftovers::Scanner;
use wfuwp_replace::{Replacer, ValueStats};

use crate::db::copy::RowRules;
use crate::db::discovery::Column;
use crate::scrub::{ScrubPlan, TableScrub};
use crate::state::model::{LeftoverExample, Leftovers, LEFTOVER_EXAMPLES};

/// The rules of one run, for every table it copies.
#[derive(Clone)]
pub struct RunRules {
    replacer: Arc<Replacer>,
    scrub: Option<Arc<ScrubPlan>>,
    scrubbed: Arc<Mutex<BTreeMap<String, u64>>>,
    audit: Option<Arc<Scanner>>,
}

impl RunRules {
    /// Rules that rewrite text with `replacer`.
    pub fn new(replacer: Arc<Replacer>) -> RunRules {
        RunRules {
            replacer,
            scrub: None,
            scrubbed: Default::default(),
            audit: None,
        }
    }

    /// The same rules, every text value written then scanned by `scanner`
    /// for what of the source it still mentions (docs/hosts.md).
    pub fn audited(self, scanner: Arc<Scanner>) -> RunRules {
        RunRules {
            audit: (!scanner.is_empty()).then_some(scanner),
            ..self
        }
    }

    /// The same rules, scrubbing with `plan` after the replacement (docs/scrub.md).
    pub fn with_scrub(mut self, plan: Option<Arc<ScrubPlan>>) -> RunRules {
        self.scrub = plan;
        self
    }

    /// The run's scrub rules, when the target has any.
    pub fn scrub(&self) -> Option<&ScrubPlan> {
        self.scrub.as_deref()
    }

    /// Adds what a table's rules scrubbed, once its rows are in the target.
    pub fn record(&self, table: &TableRules) {
        if let (Some(s), Ok(mut all)) = (&table.scrub, self.scrubbed.lock()) {
            for (rule, n) in s.counts() {
                *all.entry(rule).or_default() += n;
            }
        }
    }

    /// Values changed per scrub rule by the tables recorded so far this run.
    pub fn scrubbed(&self) -> BTreeMap<String, u64> {
        self.scrubbed.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The replacement engine (for addresses and checks computed the way
    /// the copy writes them).
    pub fn replacer(&self) -> &Replacer {
        &self.replacer
    }

    /// The rules of table `table` with `columns` (in the order the copy reads them).
    pub fn for_table(&self, table: &str, columns: &[Column]) -> TableRules {
        TableRules {
            scrub: self
                .scrub
                .as_ref()
                .and_then(|p| p.for_table(table, columns)),
            replacer: self.replacer.clone(),
            columns: columns
                .iter()
                .map(|c| match c.textual {
                    true => ValueRule::Replace,
                    false => ValueRule::Pass,
                })
                .collect(),
            stats: ValueStats::default(),
            audit: self.audit.clone().map(|scanner| TableAudit {
                scanner,
                table: table.to_string(),
                names: columns.iter().map(|c| c.name.clone()).collect(),
                key: (0..columns.len()).filter(|&i| columns[i].primary).collect(),
                text: columns.iter().map(|c| c.textual).collect(),
                found: Leftovers::default(),
                spent: std::time::Duration::ZERO,
            }),
        }
    }
}

/// The leftover scan of one table's written values.
struct TableAudit {
    scanner: Arc<Scanner>,
    table: String,
    names: Vec<String>,
    key: Vec<usize>,
    text: Vec<bool>,
    found: Leftovers,
    spent: std::time::Duration,
}

impl TableAudit {
    fn scan(&mut self, row: &[Option<Cow<'_, [u8]>>]) {
        for (i, value) in row.iter().enumerate() {
            let (Some(true), Some(value)) = (self.text.get(i), value) else {
                continue;
            };
            let Some(hit) = self.scanner.first_hit(value) else {
                continue;
            };
            let column = &self.names[i];
            self.found.values += 1;
            *self
                .found
                .by_column
                .entry(format!("{}.{column}", self.table))
                .or_default() += 1;
            if self.found.examples.len() < LEFTOVER_EXAMPLES {
                self.found.examples.push(LeftoverExample {
                    table: self.table.clone(),
                    column: column.clone(),
                    key: self.key_of(row),
                    context: around(value, hit.start, hit.end),
                    form: hit.form.name().to_string(),
                });
            }
        }
    }

    fn key_of(&self, row: &[Option<Cow<'_, [u8]>>]) -> String {
        self.key
            .iter()
            .map(|&i| {
                let v = row[i].as_deref().map(String::from_utf8_lossy);
                format!("{}={}", self.names[i], v.as_deref().unwrap_or("NULL"))
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Up to 40 bytes either side of `start..end`, cut at character boundaries.
pub fn around(value: &[u8], start: usize, end: usize) -> String {
    let mut from = start.saturating_sub(40);
    let mut to = (end + 40).min(value.len());
    let continuation = |b: u8| b & 0xC0 == 0x80;
    while from > 0 && continuation(value[from]) {
        from -= 1;
    }
    while to < value.len() && continuation(value[to]) {
        to += 1;
    }
    String::from_utf8_lossy(&value[from..to]).into_owned()
}

/// What happens to one column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueRule {
    /// Written as read (binary, numeric, date, ENUM/SET columns).
    Pass,
    /// Text: every replacement pair applied, serialization-safe.
    Replace,
}

/// The rules of one table, with what they did to its rows so far.
pub struct TableRules {
    replacer: Arc<Replacer>,
    /// Scrubbing, after the replacement (only for a table a rule touches).
    scrub: Option<TableScrub>,
    columns: Vec<ValueRule>,
    stats: ValueStats,
    /// The leftover scan, after the replacement and the scrub.
    audit: Option<TableAudit>,
}

impl TableRules {
    /// What the replacement did to the rows seen so far.
    pub fn stats(&self) -> ValueStats {
        self.stats
    }

    /// Time the leftover scan took so far.
    pub fn audit_time(&self) -> std::time::Duration {
        self.audit
            .as_ref()
            .map_or(std::time::Duration::ZERO, |a| a.spent)
    }

    /// The leftovers found so far (taken: the next call starts afresh).
    pub fn take_leftovers(&mut self) -> Leftovers {
        self.audit
            .as_mut()
            .map(|a| std::mem::take(&mut a.found))
            .unwrap_or_default()
    }
}

impl RowRules for TableRules {
    fn apply<'a>(&mut self, values: &mut [Option<Cow<'a, [u8]>>]) {
        for (value, rule) in values.iter_mut().zip(&self.columns) {
            if *rule == ValueRule::Pass {
                continue;
            }
            // Only bytes as read are text; an owned value is one the
            // transport formatted (never a text column's).
            let Some(Cow::Borrowed(read)) = value else {
                continue;
            };
            let read: &'a [u8] = read;
            let r = self.replacer.replace_value(read);
            self.stats += r.stats;
            *value = Some(r.value);
        }
        if let Some(scrub) = &mut self.scrub {
            scrub.apply(values);
        }
        // After the scrub: a scrubbed value is not a leftover.
        if let Some(audit) = &mut self.audit {
            let started = std::time::Instant::now();
            audit.scan(values);
            audit.spent += started.elapsed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfuwp_replace::Pair;

    fn column(name: &str, textual: bool) -> Column {
        Column {
            name: name.into(),
            textual,
            auto_increment: false,
            primary: false,
        }
    }

    #[test]
    fn text_columns_are_replaced_others_pass() {
        let replacer = Arc::new(Replacer::new(&[Pair::new("www.x.edu", "uat.x.edu")]).unwrap());
        let mut rules = RunRules::new(replacer).for_table(
            "wp_links",
            &[
                column("id", false),
                column("url", true),
                column("blob", false),
                column("note", true),
            ],
        );
        let mut row: Vec<Option<Cow<'_, [u8]>>> = vec![
            Some(Cow::Borrowed(b"7")),
            Some(Cow::Borrowed(b"https://www.x.edu/a")),
            Some(Cow::Borrowed(b"www.x.edu")),
            None,
        ];
        rules.apply(&mut row);
        assert_eq!(row[1].as_deref(), Some(&b"https://uat.x.edu/a"[..]));
        assert_eq!(row[2].as_deref(), Some(&b"www.x.edu"[..]));
        assert_eq!(
            (row[0].as_deref(), row[3].as_deref()),
            (Some(&b"7"[..]), None)
        );
        assert_eq!(rules.stats().replacements, 1);
    }
}
