//! The post_migration phase (docs/phases.md): what was copied is verified
//! against the target ([`verify`]), then the target's own commands run
//! ([`hooks`]).

pub mod hooks;
pub mod verify;

use anyhow::Result;

use super::details::VerificationOutcome;
use super::engine::Engine;
use crate::failpoints;
use crate::state::model::Phase;
use crate::stop::Stop;

/// The post_migration phase: verification, then the target's commands.
pub(super) async fn phase(
    engine: &Engine,
    commands: &[String],
    stop: &Stop,
) -> Result<VerificationOutcome> {
    let s = &engine.session;
    s.phase_started(Phase::PostMigration)?;
    // --media-only copied no rows: there are no counts to compare.
    let verified = if engine.media_only {
        Ok(verify::Verification::default())
    } else {
        verify::verify_sites(engine).await
    };
    let mut v = match verified {
        Ok(v) => v,
        Err(e) => {
            s.phase_failed(
                Phase::PostMigration,
                &format!("verification could not run: {e}"),
            )?;
            return Ok(VerificationOutcome::CouldNotRun {
                error: e.to_string(),
            });
        }
    };
    v.commands = hooks::run_commands(engine, commands, stop).await?;
    if stop.is_set() {
        return Ok(VerificationOutcome::Ran(v));
    }
    for m in &v.row_count_mismatches {
        engine.warn(format!(
            "site {}: target has {} rows, {} were copied",
            m.site_id, m.actual, m.expected
        ));
    }
    for m in &v.url_mismatches {
        engine.warn(format!(
            "site {}: {} is {:?} on the target, expected {:?}",
            m.site_id, m.option, m.actual, m.expected
        ));
    }
    for m in &v.blog_mismatches {
        engine.warn(m.describe(&engine.target.env));
    }
    for c in v.commands.iter().filter(|c| !c.ok) {
        engine.warn(format!(
            "post-migration command `{}` failed: {}",
            c.command, c.status
        ));
    }
    s.log(&format!(
        "verification: {} sites checked, {} row-count mismatches, {} URL mismatches, {} sites not reachable by their blogs row",
        v.sites_checked,
        v.row_count_mismatches.len(),
        v.url_mismatches.len(),
        v.blog_mismatches.len()
    ));
    for m in &v.blog_mismatches {
        s.log(&format!("verification: {}", m.describe(&engine.target.env)));
    }
    failpoints::hit("post_migration_verified");
    s.phase_completed(Phase::PostMigration)?;
    Ok(VerificationOutcome::Ran(v))
}
