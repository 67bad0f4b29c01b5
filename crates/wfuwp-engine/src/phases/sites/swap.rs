//! Putting staged tables live (docs/phases.md step 4), in three steps:
//! [`before_swap`] (the staging tables are complete; what must be in them
//! when they go live is written here), the swap itself (the backup plan
//! recorded durably, the target's ledger told, one atomic `RENAME TABLE`),
//! and [`after_swap`] (what records the tables now live). The sites phase
//! and the network tables of a full migration go live this way.

use mysql_async::Conn;

use crate::failpoints;
use crate::ledger;
use crate::phases::engine::Engine;
use crate::phases::errors::SiteError;
use crate::sites::SiteId;
use crate::state::model::{ErrorKind, SiteBackup};
use crate::tables::swap::{self, existing_tables, names_to_probe, plan_swap_in};

/// One unit of work's staged tables: a site's, or the network tables.
#[derive(Debug, Clone, Copy)]
pub struct Staged<'a> {
    /// The site (`None`: the network tables).
    pub site: Option<SiteId>,
    /// The live tables their staging copies replace.
    pub lives: &'a [String],
    /// How many of them were copied into their staging copy.
    pub copied: usize,
}

/// Puts `staged` live: [`before_swap`], the swap, [`after_swap`]. Safe to
/// call again after a crash or failure at any point.
pub async fn go_live(
    engine: &Engine,
    target: &mut Conn,
    staged: &Staged<'_>,
) -> Result<(), SiteError> {
    before_swap(staged)?;
    let recorded = engine.backup_of(staged.site);
    swap_in(engine, target, staged, recorded.as_ref()).await?;
    after_swap(engine, target, staged).await
}

/// Before the swap: the staging tables are complete (each copy already
/// checked its rows against the source's). Whatever must be in the staging
/// tables when they go live is written here, and a reason not to let them go
/// live is raised here: the unit then fails and its previous tables stay.
pub fn before_swap(staged: &Staged<'_>) -> Result<(), SiteError> {
    if staged.copied == staged.lives.len() {
        return Ok(());
    }
    Err(SiteError::permanent(
        ErrorKind::Internal,
        format!(
            "{} of {} tables were staged; nothing goes live incomplete",
            staged.copied,
            staged.lives.len()
        ),
    ))
}

/// The swap: the backup plan recorded durably, then one atomic rename.
async fn swap_in(
    engine: &Engine,
    target: &mut Conn,
    staged: &Staged<'_>,
    recorded: Option<&SiteBackup>,
) -> Result<(), SiteError> {
    let (site, lives) = (staged.site, staged.lives);
    let probe = names_to_probe(&engine.tag, lives, recorded);
    let existing = existing_tables(target, &probe).await?;
    let plan = plan_swap_in(&engine.tag, lives, &existing, recorded, engine.keep_backup);
    if let Some(record) = plan.record {
        engine.record_backup(site, record).map_err(|e| {
            SiteError::permanent(
                ErrorKind::Internal,
                format!("saving the backup record: {e:#}"),
            )
        })?;
    }
    // The ledger learns what will go live before it does (docs/state.md).
    let id = engine.session.id();
    ledger::plan_tables(target, &id, ledger_site(staged), &plan.actions).await?;
    failpoints::hit("backup_recorded");
    engine.lock.ensure().await?;
    swap::execute(target, &plan.swap).await?;
    Ok(())
}

/// After the swap: the tables are live; the target's ledger records it.
/// What records the live tables belongs here.
pub async fn after_swap(
    engine: &Engine,
    target: &mut Conn,
    staged: &Staged<'_>,
) -> Result<(), SiteError> {
    ledger::mark_live(target, &engine.session.id(), ledger_site(staged)).await?;
    Ok(())
}

/// The site id the ledger keeps `staged` under.
fn ledger_site(staged: &Staged<'_>) -> SiteId {
    staged.site.unwrap_or(ledger::NETWORK)
}
