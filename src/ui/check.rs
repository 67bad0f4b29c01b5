//! What `wfuwp config check` found, on stdout.

use wfuwp_engine::check::{DatabaseFacts, Problem, Report};
use wfuwp_engine::config::Environment;

/// One environment's check.
pub fn report(r: &Report, all: &[Report]) {
    let e = &r.env;
    crate::outln!(
        "{}: {}@{} database '{}' (prefix {})",
        e.name,
        e.user,
        e.address(),
        e.database,
        e.table_prefix
    );
    match &r.outcome {
        Ok(reached) => {
            crate::outln!("  ok: {}", describe(e, &reached.facts));
            crate::outln!("  connection: {}", reached.wire);
            if let Some(note) = table_cache_note(r, all) {
                crate::outln!("  note: {note}");
            }
        }
        Err(Problem::Config(m)) | Err(Problem::Database(m)) => crate::outln!("  FAILED: {m}"),
    }
    // As a target: what a migration into it scrubs, keeps, sets and leaves out.
    for line in wfuwp_engine::scrub::describe_rules(e) {
        crate::outln!("  {line}");
    }
    for p in &r.rule_problems {
        crate::outln!("  PROBLEM: {p}");
    }
}

/// When a migration into `r`'s database would hold more tables than its
/// server caches, what that costs and what to raise (the run's own warning
/// is one line that points here). The source is taken to be the largest
/// other environment checked, or one as large as this one.
fn table_cache_note(r: &Report, all: &[Report]) -> Option<String> {
    let reached = r.outcome.as_ref().ok()?;
    let caches = reached.caches?;
    let own = reached.facts.tables;
    let (source, from) = all
        .iter()
        .filter(|o| o.env.name != r.env.name)
        .filter_map(|o| Some((o.outcome.as_ref().ok()?.facts.tables, &o.env.name)))
        .max()
        .map_or((own, "a network of its size".to_string()), |(n, name)| {
            (n, format!("'{name}', the largest other environment"))
        });
    let tables = own + source;
    if !caches.outgrown_by(tables) {
        return None;
    }
    let suggested = tables.next_multiple_of(1000) * 2;
    Some(format!(
        "the server caches {} table definitions (table_definition_cache) and {} open tables (table_open_cache), \
         but a migration into this database holds up to {tables} tables at once (its {own} and the {source} of \
         {from}). Past the caches every statement reopens the tables it touches: a migration works, only \
         slower (12 % of a 1,500-site run). A DBA can raise both: SET GLOBAL table_definition_cache = \
         {suggested}; SET GLOBAL table_open_cache = {suggested}; and the same in the server's configuration to \
         outlast a restart (table_open_cache is bounded by open_files_limit)",
        caches.definitions, caches.open
    ))
}

fn describe(env: &Environment, f: &DatabaseFacts) -> String {
    let mut s = format!("server {}, ", f.version);
    match &f.sites {
        Some(c) => s.push_str(&format!(
            "multisite with {} sites ({} archived, {} spam, {} deleted), {} tables",
            c.total, c.archived, c.spam, c.deleted, f.tables
        )),
        None => {
            s.push_str("empty database (0 tables): usable as a migration target, not as a source")
        }
    }
    if let Some(url) = &f.siteurl {
        s.push_str(&format!(", main site {url}"));
        if let Some(main) = env
            .replace
            .get("main")
            .filter(|m| !url.contains(m.as_str()))
        {
            s.push_str(&format!(
                " (note: does not contain this environment's `main` token '{main}')"
            ));
        }
    }
    s
}
