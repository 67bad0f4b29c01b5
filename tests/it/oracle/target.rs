//! The whole target after a migration, judged table by table against the
//! source, the replacement pairs and a [`Snapshot`] of the target that the
//! test took before the run:
//!
//! - **migrated tables** (the selected sites' tables; a full migration's
//!   `blogs`, `blogmeta`, `site`, `sitemeta`, and `users`/`usermeta` with
//!   `--include-users`): every cell as PHP says (`check.php`), and a
//!   definition equal to the source's, `AUTO_INCREMENT` included;
//! - **merged tables** of a partial migration (`blogs`, `blogmeta`, and
//!   `users`/`usermeta` unless `--no-users`): the rows of the sites that go
//!   in are the source's, every other row is the target's own, byte for
//!   byte; the definition is the target's own, `AUTO_INCREMENT` apart (new
//!   rows move it); users follow the rules of docs/phases.md, worked out in
//!   `users.rs`, or literal rows written by the test;
//! - **backups** (`_wfb_<tag>_<table>`): the target's table from before,
//!   rows and definition (`AUTO_INCREMENT` apart: a partial migration's
//!   network backups are copies);
//! - **everything else**, other sites, users without `--include-users`,
//!   tables only the target has: byte-identical (`CHECKSUM TABLE`) and
//!   defined exactly as before; no table dropped, none added, no staging
//!   or trash table left.
//!
//! wfuwp's ledger is never looked at (`support::LEDGER`).

use std::collections::{BTreeMap, BTreeSet};

use super::definition::{definitions, Definition};
use super::users::{self, UsersPlan};
use super::{compare_rows, judge, prod_to_uat, Check, Layout, Pending, RawRow};
use crate::support::{q, table_checksums, TestDb};

/// Network tables (after `wp_`), as docs/phases.md lists them.
const NETWORK: &[&str] = &[
    "blogs",
    "blogmeta",
    "site",
    "sitemeta",
    "users",
    "usermeta",
    "signups",
    "registration_log",
    "blog_versions",
];

/// Network tables a full migration copies whole.
const FULL_NETWORK: &[&str] = &["blogs", "blogmeta", "site", "sitemeta"];

/// Network tables whose rows a partial migration merges, and the primary key
/// that orders them.
const MERGED: &[(&str, &str)] = &[
    ("wp_blogs", "blog_id"),
    ("wp_blogmeta", "meta_id"),
    ("wp_users", "ID"),
    ("wp_usermeta", "umeta_id"),
];

/// One table as it was.
#[derive(Debug, Clone)]
pub struct Taken {
    /// Its definition.
    pub definition: Definition,
    /// Rows and `CHECKSUM TABLE`.
    pub sum: (u64, u64),
}

/// A target as it was before a migration.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every table ([`TestDb::tables`]).
    pub tables: BTreeMap<String, Taken>,
    /// The rows of the tables a partial migration merges, by primary key.
    pub rows: BTreeMap<String, (Layout, Vec<RawRow>)>,
}

/// Takes `db`'s snapshot (an empty database has an empty one).
pub fn snapshot(db: &TestDb) -> Snapshot {
    let mut definitions = definitions(db);
    let tables = table_checksums(db)
        .into_iter()
        .map(|(t, sum)| {
            let definition = definitions.remove(&t).unwrap_or_default();
            (t, Taken { definition, sum })
        })
        .collect::<BTreeMap<_, _>>();
    let rows = MERGED
        .iter()
        .filter(|(t, _)| tables.contains_key(*t))
        .map(|(t, key)| {
            (
                t.to_string(),
                (Layout::of(db, t), users::rows(db, t, &q(key))),
            )
        })
        .collect();
    Snapshot { tables, rows }
}

/// What the users tables must hold after the run.
#[derive(Debug, Clone)]
pub enum Users {
    /// Not the migration's: a full migration without `--include-users`, or
    /// a partial one with `--no-users`.
    Untouched,
    /// `--include-users`: copied whole, like any migrated table.
    Copied,
    /// A partial migration's users step, by the rules of docs/phases.md.
    Brought,
    /// As `Brought`, but what `users` and `usermeta` must hold is written out
    /// by the test: every row, every column, in primary key order.
    Literal {
        /// Rows of `wp_users`.
        users: Vec<Vec<Option<String>>>,
        /// Rows of `wp_usermeta`.
        usermeta: Vec<Vec<Option<String>>>,
    },
}

/// A migration, as the oracle needs to know it.
#[derive(Debug, Clone)]
pub struct Migration<'a> {
    source: &'a TestDb,
    pairs: Vec<(String, String)>,
    /// `None`: every site (a full migration).
    sites: Option<BTreeSet<u64>>,
    users: Users,
}

impl<'a> Migration<'a> {
    /// `env-migrate prod uat` of every site of `source`, users left alone.
    pub fn full(source: &'a TestDb) -> Self {
        Migration {
            source,
            pairs: prod_to_uat(&[]),
            sites: None,
            users: Users::Untouched,
        }
    }

    /// `--include-sites SITES`: the sites' users come along.
    pub fn of_sites(source: &'a TestDb, sites: &[u64]) -> Self {
        Migration {
            sites: Some(sites.iter().copied().collect()),
            users: Users::Brought,
            ..Migration::full(source)
        }
    }

    /// With these replacement pairs (written by hand) instead of prod → uat.
    pub fn pairs(self, pairs: Vec<(String, String)>) -> Self {
        Migration { pairs, ..self }
    }

    /// With this expectation for `users` and `usermeta`.
    pub fn users(self, users: Users) -> Self {
        Migration { users, ..self }
    }
}

/// What the oracle judged.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Text values PHP judged.
    pub judged: usize,
    /// Of which serialized.
    pub serialized: usize,
    /// Sites the migration must have failed (users who clash), by the rules.
    pub failed_sites: Vec<u64>,
    /// Users whose rows the migration wrote, by the rules.
    pub brought_users: Vec<u64>,
}

/// Who a source table belongs to.
enum Owner<'t> {
    Network(&'t str),
    Site(u64),
}

fn owner<'t>(table: &'t str, blog_ids: &BTreeSet<u64>) -> Option<Owner<'t>> {
    let rest = table.strip_prefix("wp_")?;
    if NETWORK.contains(&rest) {
        return Some(Owner::Network(rest));
    }
    let site = rest
        .split_once('_')
        .filter(|(digits, tail)| {
            !tail.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|(digits, _)| digits.parse::<u64>().ok())
        .filter(|id| *id >= 2 && blog_ids.contains(id));
    Some(Owner::Site(site.unwrap_or(1)))
}

/// The judgement in progress.
struct Judging<'a> {
    m: &'a Migration<'a>,
    before: &'a Snapshot,
    target: &'a TestDb,
    problems: Vec<String>,
    pending: Vec<Pending>,
}

/// Judges the whole of `target` after migration `m`, from `before`; panics
/// naming every difference (the first 20).
pub fn assert_target(m: &Migration, before: &Snapshot, target: &TestDb) -> Verdict {
    let blog_ids: BTreeSet<u64> = m
        .source
        .query::<u64>("SELECT blog_id FROM wp_blogs")
        .into_iter()
        .collect();
    let selected = m.sites.clone().unwrap_or_else(|| blog_ids.clone());
    let partial = m.sites.is_some();
    let plan = match (&m.users, partial) {
        (Users::Brought | Users::Literal { .. }, true) => {
            users::plan(m.source, &selected, &target_logins(before))
        }
        _ => UsersPlan::default(),
    };
    let going_in: BTreeSet<u64> = selected.difference(&plan.failed_sites).copied().collect();
    let migrated: BTreeSet<String> = m
        .source
        .tables()
        .into_iter()
        .filter(|t| match owner(t, &blog_ids) {
            Some(Owner::Site(s)) => going_in.contains(&s),
            Some(Owner::Network(n)) => {
                !partial
                    && (FULL_NETWORK.contains(&n)
                        || (matches!(m.users, Users::Copied) && ["users", "usermeta"].contains(&n)))
            }
            None => false,
        })
        .collect();
    let merged: BTreeSet<String> = if partial {
        MERGED
            .iter()
            .map(|(t, _)| t.to_string())
            .filter(|t| !t.contains("user") || !matches!(m.users, Users::Untouched))
            .collect()
    } else {
        BTreeSet::new()
    };

    let mut j = Judging {
        m,
        before,
        target,
        problems: Vec::new(),
        pending: Vec::new(),
    };
    j.tables(&migrated, &merged);
    if partial {
        j.merged_sites("wp_blogs", &going_in, None);
        j.merged_sites(
            "wp_blogmeta",
            &going_in,
            Some(("blog_id, meta_key, meta_value", "meta_id")),
        );
        match &m.users {
            Users::Untouched | Users::Copied => {}
            Users::Brought => j.brought_users(&plan, &going_in),
            Users::Literal { users, usermeta } => {
                j.literal("wp_users", "ID", users);
                j.literal("wp_usermeta", "umeta_id", usermeta);
            }
        }
    }
    let judged = j.pending.len();
    let judgement = judge(&m.pairs, &j.pending);
    j.problems.extend(judgement.problems);
    assert!(
        j.problems.is_empty(),
        "the oracle found {} problems on {} (first 20):\n{}",
        j.problems.len(),
        target.name,
        j.problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Verdict {
        judged,
        serialized: judgement.serialized,
        failed_sites: plan.failed_sites.into_iter().collect(),
        brought_users: plan.brought.into_iter().collect(),
    }
}

/// The target's users before the run: ID → login.
fn target_logins(before: &Snapshot) -> BTreeMap<u64, String> {
    let Some((layout, rows)) = before.rows.get("wp_users") else {
        return BTreeMap::new();
    };
    let (id, login) = (layout.at("ID"), layout.at("user_login"));
    rows.iter()
        .map(|r| (number(&r[id]), text(&r[login])))
        .collect()
}

fn number(cell: &Option<Vec<u8>>) -> u64 {
    text(cell)
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

fn text(cell: &Option<Vec<u8>>) -> String {
    cell.as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

impl Judging<'_> {
    /// Every table of the target, by what it must be.
    fn tables(&mut self, migrated: &BTreeSet<String>, merged: &BTreeSet<String>) {
        let source_defs = definitions(self.m.source);
        let defs = definitions(self.target);
        let sums = table_checksums(self.target);
        for (t, sum) in &sums {
            let def = &defs[t];
            if t.starts_with("_wfs_") || t.starts_with("_wft_") {
                self.problems
                    .push(format!("{t}: staging or trash table left behind"));
            } else if t.starts_with("_wfb_") {
                self.backup(t, *sum, def);
            } else if migrated.contains(t) {
                self.definition(t, &source_defs[t], def, true, "the source's");
                let mut pending = Vec::new();
                super::compare_table(
                    self.m.source,
                    self.target,
                    &Check::table(t),
                    &mut self.problems,
                    &mut pending,
                );
                self.pending.extend(pending);
            } else if merged.contains(t) {
                let was = self
                    .before
                    .tables
                    .get(t)
                    .map(|b| &b.definition)
                    .unwrap_or(&source_defs[t]);
                self.definition(t, was, def, false, "its own from before");
            } else {
                self.untouched(t, *sum, def);
            }
        }
        for t in migrated.iter().chain(merged) {
            if !sums.contains_key(t) {
                self.problems.push(format!("{t}: missing on the target"));
            }
        }
        for t in self.before.tables.keys() {
            if !t.starts_with("_wf") && !sums.contains_key(t) {
                self.problems.push(format!("{t}: dropped by the migration"));
            }
        }
    }

    fn definition(&mut self, t: &str, want: &Definition, got: &Definition, ai: bool, what: &str) {
        for d in want.differences(got, ai) {
            self.problems
                .push(format!("{t}: definition differs from {what}: {d}"));
        }
    }

    /// A table the migration must not have touched.
    fn untouched(&mut self, t: &str, sum: (u64, u64), def: &Definition) {
        match self.before.tables.get(t) {
            None => self.problems.push(format!(
                "{t}: created, though the migration has no such table"
            )),
            Some(was) => {
                if was.sum != sum {
                    self.problems.push(format!(
                        "{t}: must be untouched, but (rows, CHECKSUM TABLE) went from {:?} to {sum:?}",
                        was.sum
                    ));
                }
                self.definition(t, &was.definition, def, true, "its own from before");
            }
        }
    }

    /// A backup: the target's table from before (or an older backup, unchanged).
    fn backup(&mut self, t: &str, sum: (u64, u64), def: &Definition) {
        if self.before.tables.contains_key(t) {
            return self.untouched(t, sum, def);
        }
        let live = t
            .strip_prefix("_wfb_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(_, live)| live)
            .unwrap_or(t);
        match self.before.tables.get(live) {
            None => self.problems.push(format!(
                "{t}: a backup of {live}, which the target did not have"
            )),
            Some(was) => {
                if was.sum != sum {
                    self.problems.push(format!(
                        "{t}: (rows, CHECKSUM TABLE) {sum:?}, but {live} was {:?} before the run",
                        was.sum
                    ));
                }
                self.definition(t, &was.definition, def, false, &format!("{live}'s"));
            }
        }
    }

    /// `table`'s rows of the sites going in are the source's (paired by
    /// `content` order, `skip` column left out, when given); every other row
    /// is the target's own, byte for byte.
    fn merged_sites(
        &mut self,
        table: &str,
        going_in: &BTreeSet<u64>,
        content: Option<(&str, &str)>,
    ) {
        let ids = going_in
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let ids = if ids.is_empty() { "NULL".into() } else { ids };
        let check = Check {
            table: table.into(),
            filter: Some(format!("blog_id IN ({ids})")),
            order: content.map(|(order, _)| order.to_string()),
            skip: content
                .map(|(_, skip)| vec![skip.to_string()])
                .unwrap_or_default(),
        };
        let mut pending = Vec::new();
        super::compare_table(
            self.m.source,
            self.target,
            &check,
            &mut self.problems,
            &mut pending,
        );
        self.pending.extend(pending);
        self.kept_rows(table, |layout, row| {
            !going_in.contains(&number(&row[layout.at("blog_id")]))
        });
    }

    /// The rows of `table` that `keep` selects are the target's own from
    /// before, byte for byte, and no other row of the target is like them.
    fn kept_rows(&mut self, table: &str, keep: impl Fn(&Layout, &RawRow) -> bool) {
        let Some((layout, before)) = self.before.rows.get(table) else {
            return;
        };
        let key = MERGED
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, k)| *k)
            .unwrap_or("1");
        let now = users::rows(self.target, table, &q(key));
        let was: Vec<&RawRow> = before.iter().filter(|r| keep(layout, r)).collect();
        let is: Vec<&RawRow> = now.iter().filter(|r| keep(layout, r)).collect();
        if was != is {
            let gone = was.iter().filter(|r| !is.contains(r)).count();
            let new = is.iter().filter(|r| !was.contains(r)).count();
            self.problems.push(format!(
                "{table}: rows the migration must leave alone changed: {gone} of {} gone or altered, \
                 {new} new or altered",
                was.len()
            ));
        }
    }

    /// users and usermeta after the users step (docs/phases.md).
    fn brought_users(&mut self, plan: &UsersPlan, going_in: &BTreeSet<u64>) {
        let brought = plan
            .brought
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let brought = if brought.is_empty() {
            "NULL".into()
        } else {
            brought
        };
        let check = Check {
            table: "wp_users".into(),
            filter: Some(format!("ID IN ({brought})")),
            order: None,
            skip: Vec::new(),
        };
        let mut pending = Vec::new();
        super::compare_table(
            self.m.source,
            self.target,
            &check,
            &mut self.problems,
            &mut pending,
        );
        self.kept_rows("wp_users", |layout, row| {
            !plan.brought.contains(&number(&row[layout.at("ID")]))
        });

        let layout = Layout::of(self.m.source, "wp_usermeta");
        let (user, key, id) = (
            layout.at("user_id"),
            layout.at("meta_key"),
            layout.at("umeta_id"),
        );
        let is_owned =
            |row: &RawRow| users::owned(plan, going_in, number(&row[user]), row[key].as_deref());
        // Owned rows: the source's, paired by user, key and source order;
        // the target numbers them itself.
        let by_content = |db: &TestDb| -> Vec<RawRow> {
            let mut rows: Vec<RawRow> = users::rows(db, "wp_usermeta", "umeta_id")
                .into_iter()
                .filter(|r| is_owned(r))
                .collect();
            rows.sort_by_key(|r| (number(&r[user]), r[key].clone()));
            rows.into_iter()
                .map(|mut r| {
                    r.remove(id);
                    r
                })
                .collect()
        };
        let mut content = Layout::of(self.m.source, "wp_usermeta");
        content.names.remove(id);
        content.textual.remove(id);
        compare_rows(
            &content,
            &by_content(self.m.source),
            &by_content(self.target),
            &mut self.problems,
            &mut pending,
        );
        self.pending.extend(pending);
        self.kept_rows("wp_usermeta", |l, row| {
            !users::owned(
                plan,
                going_in,
                number(&row[l.at("user_id")]),
                row[l.at("meta_key")].as_deref(),
            )
        });
    }

    /// `table` holds exactly `rows`, in `key` order, every column.
    fn literal(&mut self, table: &str, key: &str, rows: &[Vec<Option<String>>]) {
        let want: Vec<RawRow> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| c.as_ref().map(|s| s.as_bytes().to_vec()))
                    .collect()
            })
            .collect();
        let is = users::rows(self.target, table, &q(key));
        if is != want {
            let show = |rows: &[RawRow]| {
                rows.iter()
                    .map(|r| {
                        r.iter()
                            .map(|c| {
                                c.as_deref().map_or("NULL".into(), |b| {
                                    format!("{:?}", String::from_utf8_lossy(b))
                                })
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n    ")
            };
            self.problems.push(format!(
                "{table}: not the rows the test wrote out:\n  expected:\n    {}\n  found:\n    {}",
                show(&want),
                show(&is)
            ));
        }
    }
}
