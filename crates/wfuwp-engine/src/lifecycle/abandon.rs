//! A migration no longer offered for resume (`--abandon ID`).

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::db::connect;
use crate::error::Error;
use crate::ledger;
use crate::report::{Event, Reporter};
use crate::state::{self, MigrationState, MigrationStatus};

/// How long the target's ledger gets to hear of it.
const LEDGER_WITHIN: Duration = Duration::from_secs(5);

/// Marks migration `id` cancelled, then tells the target's ledger when the
/// configuration names the target. `--abandon` needs no database: a ledger
/// that cannot be told keeps its earlier status, which decides nothing
/// differently (what the migration made live stands either way), and that is
/// only warned about.
pub async fn abandon(
    config: Option<&Config>,
    logs_dir: &Path,
    id: &str,
    reporter: &dyn Reporter,
) -> Result<MigrationState, Error> {
    let st = state::abandon(logs_dir, id)?;
    reporter.event(Event::Info(&format!(
        "migration {id} ({} → {}) is now cancelled and will not be offered for resume. \
Its backup tables stay on {} until `wfuwp env-migrate --rollback {id}` or a later migration to it completes.",
        st.source_env, st.target_env, st.target_env
    )));
    if let Some(env) = config.and_then(|c| c.environment(&st.target_env).ok()) {
        if let Err(e) = tell_ledger(env, id).await {
            reporter.event(Event::Warning(&format!(
                "the ledger of '{}' could not be told that {id} is cancelled ({e:#}); it keeps its earlier status there, \
                 which changes nothing wfuwp decides",
                st.target_env
            )));
        }
    }
    Ok(st)
}

async fn tell_ledger(env: &crate::config::Environment, id: &str) -> anyhow::Result<()> {
    let recorded = async {
        let mut conn = connect::connect(env).await?;
        ledger::set_status(&mut conn, &env.database, id, MigrationStatus::Cancelled).await?;
        let _ = conn.disconnect().await;
        anyhow::Ok(())
    };
    tokio::time::timeout(LEDGER_WITHIN, recorded)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the server did not answer within 5 s")))
}
