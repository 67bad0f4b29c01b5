//! The record of a `--rollback`: started, each site and the network tables
//! swapped back, finished (an interrupted rollback continues where it stopped).

use chrono::Utc;

use super::*;

impl Session {
    fn require_rollback(&self, state: &MigrationState) -> StateResult<()> {
        match self.kind {
            SessionKind::Rollback => Ok(()),
            SessionKind::Run => Err(wrong(state, "this session was not opened for rollback")),
        }
    }

    /// Starts (or continues, after an interrupted rollback) the rollback record.
    pub fn rollback_started(&self) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change("rollback started", |s| {
                self.require_rollback(s)?;
                let now = Utc::now();
                let r = s.rollback.get_or_insert(RollbackRecord {
                    status: RollbackStatus::InProgress,
                    start_time: now,
                    end_time: None,
                    sites_done: Vec::new(),
                    network_done: false,
                    error: None,
                });
                r.status = RollbackStatus::InProgress;
                r.end_time = None;
                r.error = None;
                Ok(())
            })
        })
    }

    /// Whether the rollback already swapped site `id` back.
    pub fn is_site_rolled_back(&self, id: SiteId) -> bool {
        self.inner()
            .state
            .rollback
            .as_ref()
            .is_some_and(|r| r.sites_done.contains(&id))
    }

    /// Whether the rollback already swapped the network tables back.
    pub fn is_network_rolled_back(&self) -> bool {
        self.inner()
            .state
            .rollback
            .as_ref()
            .is_some_and(|r| r.network_done)
    }

    fn rollback_in_progress(&self, g: &Inner) -> StateResult<()> {
        self.require_rollback(&g.state)?;
        match &g.state.rollback {
            Some(r) if r.status == RollbackStatus::InProgress => Ok(()),
            _ => Err(wrong(&g.state, "call rollback_started first")),
        }
    }

    /// Site `id` is swapped back to its backup (durable before return).
    pub fn rollback_site_done(&self, id: SiteId) -> anyhow::Result<()> {
        Self::edge(|| {
            let mut g = self.inner();
            self.rollback_in_progress(&g)?;
            if g.state.site(id).is_none() {
                return Err(TransitionError::UnknownSite {
                    id: self.id(),
                    site: id,
                }
                .into());
            }
            self.journal(
                &mut g,
                JournalOp::RollbackSite(id),
                &format!("rollback: site {id} restored"),
            )
        })
    }

    /// The network tables are swapped back.
    pub fn rollback_network_done(&self) -> anyhow::Result<()> {
        Self::edge(|| {
            self.rollback_in_progress(&self.inner())?;
            self.change("rollback: network tables restored", |s| {
                if let Some(r) = s.rollback.as_mut() {
                    r.network_done = true;
                }
                Ok(())
            })
        })
    }

    /// Ends the rollback record: `error` `None` means the target is restored.
    /// Then call [`Session::finish`] with `RolledBack` (success) or the
    /// migration's current status (failure).
    pub fn rollback_finished(&self, error: Option<&str>) -> anyhow::Result<()> {
        let event = match error {
            None => "rollback completed".to_string(),
            Some(e) => format!("rollback failed: {e}"),
        };
        Self::edge(|| {
            self.rollback_in_progress(&self.inner())?;
            self.change(&event, |s| {
                if let Some(r) = s.rollback.as_mut() {
                    r.status = if error.is_none() {
                        RollbackStatus::Completed
                    } else {
                        RollbackStatus::Failed
                    };
                    r.end_time = Some(Utc::now());
                    r.error = error.map(str::to_string);
                }
                Ok(())
            })
        })
    }
}
