//! Migration management that needs no database: list, abandon (which also
//! tells the target's ledger when it can), show-state-path, choose, and
//! resume detection for `wfuwp env-migrate SOURCE TARGET`.

use wfuwp_engine::lifecycle;
use wfuwp_engine::state::{self, ListedMigration, StateError};

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::exit::{Code, Failure};
use crate::ui::listing::{progress_text, table};
use crate::ui::output::{info, interactive, warn};
use crate::ui::progress::Terminal;
use crate::ui::prompt;

type Result<T> = std::result::Result<T, Failure>;

/// `--show-state-path`
pub fn show_state_path(ctx: &Context) -> Result<Code> {
    let (dir, source) = ctx.logs_dir()?;
    crate::outln!("{}\t(chosen by {source})", dir.display());
    Ok(Code::Success)
}

/// `--list-migrations [--all] [--json]`
pub fn list(ctx: &Context, args: &EnvMigrateArgs) -> Result<Code> {
    let (dir, _) = ctx.logs_dir()?;
    let listing = state::list_migrations(&dir, args.all)?;
    if args.json {
        let text = serde_json::to_string_pretty(&listing.migrations)
            .map_err(|e| Failure::Fatal(format!("cannot print the listing as JSON: {e}")))?;
        crate::outln!("{text}");
    } else if listing.migrations.is_empty() {
        let which = if args.all {
            "no migrations"
        } else {
            "no incomplete migrations"
        };
        info(format!("{which} in {}", dir.display()));
    } else {
        crate::out!("{}", table(&listing.migrations).render());
        if let Some(m) = listing.migrations.iter().find(|m| m.resumable) {
            info(format!(
                "resume with: wfuwp env-migrate --resume {}",
                m.migration_id
            ));
        }
    }
    report_problems(listing.problems)
}

// Unreadable migrations do not hide the readable ones, but the listing still
// fails so that scripts notice.
fn report_problems(problems: Vec<StateError>) -> Result<Code> {
    if problems.is_empty() {
        return Ok(Code::Success);
    }
    for p in &problems {
        warn(p.to_string());
    }
    Err(Failure::Usage(format!(
        "{} migration director{} could not be read (reasons above); the files were not changed. Repair or move them aside.",
        problems.len(),
        if problems.len() == 1 { "y" } else { "ies" }
    )))
}

/// `--abandon ID`
pub fn abandon(ctx: &Context, id: &str) -> Result<Code> {
    let (dir, _) = ctx.logs_dir()?;
    // Without a configuration that names the target, its ledger is not told.
    let config = ctx.config().ok();
    let reporter = Terminal::new();
    let abandoned = lifecycle::abandon(config.as_ref(), &dir, id, &*reporter);
    super::runtime()?.block_on(abandoned)?;
    Ok(Code::Success)
}

/// What to do about incomplete migrations of the same SOURCE → TARGET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeDecision {
    /// Resume this migration id.
    Resume(String),
    /// Start a new migration.
    StartNew,
    /// The user cancelled: do nothing.
    Cancel,
}

/// Resume detection for `wfuwp env-migrate SOURCE TARGET` (docs/phases.md): with no
/// incomplete unlocked migration of the pair, or with `--force`, start anew;
/// on a terminal ask; otherwise refuse (exit 2) naming the resume command.
pub fn detect_resume(
    ctx: &Context,
    source: &str,
    target: &str,
    force: bool,
) -> Result<ResumeDecision> {
    let (dir, _) = ctx.logs_dir()?;
    let found = state::find_resumable(&dir, source, target)?;
    let Some(newest) = found.first() else {
        return Ok(ResumeDecision::StartNew);
    };
    let id = &newest.migration_id;
    if force {
        info(format!("note: incomplete migration {id} of {source} → {target} exists; starting a new one (--force)"));
        return Ok(ResumeDecision::StartNew);
    }
    if !interactive() {
        return Err(Failure::Usage(format!(
            "an incomplete migration of {source} → {target} exists: {id} ({}). \
Resume it with `wfuwp env-migrate --resume {id}`, or start a new one with `wfuwp env-migrate {source} {target} --force`.",
            progress_text(newest)
        )));
    }
    let more = if found.len() > 1 {
        format!(" (and {} older)", found.len() - 1)
    } else {
        String::new()
    };
    let items = vec![
        format!("Resume {id} ({}){more}", progress_text(newest)),
        "Start a new migration".to_string(),
        "Cancel".to_string(),
    ];
    let prompt_text = format!("An incomplete migration of {source} → {target} exists");
    Ok(match prompt::select(&prompt_text, &items, 0)? {
        Some(0) => ResumeDecision::Resume(id.clone()),
        Some(1) => ResumeDecision::StartNew,
        _ => ResumeDecision::Cancel,
    })
}

const USAGE: &str = "give SOURCE and TARGET: `wfuwp env-migrate SOURCE TARGET` (e.g. `wfuwp env-migrate prod uat`). \
See `wfuwp env-migrate --help` for options, `wfuwp env-migrate --list-migrations` for incomplete migrations.";

/// Bare `wfuwp env-migrate` on a terminal: lets the user pick an incomplete,
/// resumable migration; `Ok(None)` if they cancel. Without a terminal or
/// without such migrations: a usage error (exit 2).
pub fn choose_migration(ctx: &Context) -> Result<Option<String>> {
    let (dir, _) = ctx.logs_dir()?;
    let listing = state::list_migrations(&dir, false)?;
    let resumable: Vec<&ListedMigration> =
        listing.migrations.iter().filter(|m| m.resumable).collect();
    if resumable.is_empty() {
        return Err(Failure::Usage(USAGE.into()));
    }
    if !interactive() {
        let id = &resumable[0].migration_id;
        return Err(Failure::Usage(format!(
            "{USAGE} To resume the newest incomplete migration: `wfuwp env-migrate --resume {id}`."
        )));
    }
    let mut items: Vec<String> = resumable
        .iter()
        .map(|m| {
            format!(
                "{}  {} → {}  ({})",
                m.migration_id,
                m.source_env,
                m.target_env,
                progress_text(m)
            )
        })
        .collect();
    items.push("Cancel".into());
    Ok(
        match prompt::select("Resume which migration?", &items, 0)? {
            Some(i) if i < resumable.len() => Some(resumable[i].migration_id.clone()),
            _ => None,
        },
    )
}
