//! The transitions a run reports: phases, sites, backup records, hooks and
//! backup space, each durable before the call returns.

use chrono::{DateTime, Utc};

use super::*;

impl Session {
    /// A phase starts (`in_progress`; it becomes `currentPhase`).
    pub fn phase_started(&self, p: Phase) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {p} started"), |s| {
                Ok(s.set_phase(p, PhaseStatus::InProgress, None, Utc::now())?)
            })
        })
    }

    /// A phase completed.
    pub fn phase_completed(&self, p: Phase) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {p} completed"), |s| {
                Ok(s.set_phase(p, PhaseStatus::Completed, None, Utc::now())?)
            })
        })
    }

    /// The network tables phase completed, with what of the source the rows
    /// it copied still mention: one write, so a crash cannot leave the phase
    /// done and its audit lost. Added to an earlier run's findings: a rerun
    /// for retried sites copies only their rows.
    pub fn network_completed(&self, found: Leftovers) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {} completed", Phase::NetworkTables), |s| {
                if !found.is_empty() {
                    s.network_leftovers
                        .get_or_insert_with(Default::default)
                        .merge(found);
                }
                Ok(s.set_phase(
                    Phase::NetworkTables,
                    PhaseStatus::Completed,
                    None,
                    Utc::now(),
                )?)
            })
        })
    }

    /// A phase that ran before it could be recorded (preflight runs before a
    /// new migration's state exists, so that a refused migration leaves none
    /// behind) completed; it started at `started`.
    pub fn phase_passed(&self, p: Phase, started: DateTime<Utc>) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {p} completed"), |s| {
                s.set_phase(p, PhaseStatus::InProgress, None, started)?;
                Ok(s.set_phase(p, PhaseStatus::Completed, None, Utc::now())?)
            })
        })
    }

    /// A phase failed with `err`. A failure found before the phase was
    /// recorded as started (e.g. a preflight check on resume) counts as a
    /// start and a failure, so the error is never lost to a transition refusal.
    pub fn phase_failed(&self, p: Phase, err: &str) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {p} failed: {err}"), |s| {
                let now = Utc::now();
                if s.phase(p).status != PhaseStatus::InProgress {
                    s.set_phase(p, PhaseStatus::InProgress, None, now)?;
                }
                Ok(s.set_phase(p, PhaseStatus::Failed, Some(err), now)?)
            })
        })
    }

    /// A phase is not needed for this migration.
    pub fn phase_skipped(&self, p: Phase) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("phase {p} skipped"), |s| {
                Ok(s.set_phase(p, PhaseStatus::Skipped, None, Utc::now())?)
            })
        })
    }

    /// A site starts: `in_progress`, `attempts` + 1, `startTime`.
    pub fn site_started(&self, id: SiteId) -> anyhow::Result<()> {
        Self::edge(|| {
            self.site_change(
                id,
                (
                    &[SiteStatus::Pending, SiteStatus::Failed, SiteStatus::Timeout],
                    SiteStatus::InProgress,
                ),
                |r| format!("site {id} started (attempt {})", r.attempts),
                |_| {},
            )
        })
    }

    /// A transient failure that will be retried: `attempts` + 1, error kept, still `in_progress`.
    pub fn site_retrying(&self, id: SiteId, kind: ErrorKind, err: &str) -> anyhow::Result<()> {
        Self::edge(|| {
            self.site_change(
                id,
                (&[SiteStatus::InProgress], SiteStatus::InProgress),
                |r| {
                    format!(
                        "site {id} retrying (attempt {}) after {kind} error: {err}",
                        r.attempts
                    )
                },
                |r| {
                    r.error = Some(err.to_string());
                    r.error_kind = Some(kind);
                },
            )
        })
    }

    /// What the leftover audit found in a site's copy (`None`: nothing),
    /// before its swap. Written only when it differs from the record's.
    pub fn site_audited(&self, id: SiteId, found: Option<Leftovers>) -> anyhow::Result<()> {
        let found = found.filter(|l| !l.is_empty()).map(Box::new);
        if self.site(id).map(|r| r.leftovers) == Some(found.clone()) {
            return Ok(());
        }
        Self::edge(|| {
            self.site_change(
                id,
                (&[SiteStatus::InProgress], SiteStatus::InProgress),
                |r| match &r.leftovers {
                    Some(l) => format!("site {id}: {} values still mention the source", l.values),
                    None => format!("site {id}: no value mentions the source any more"),
                },
                |r| r.leftovers = found,
            )
        })
    }

    /// A site is swapped in on the target.
    pub fn site_completed(&self, id: SiteId, stats: SiteStats) -> anyhow::Result<()> {
        Self::edge(|| {
            self.site_change(
                id,
                (&[], SiteStatus::Completed),
                |r| {
                    format!(
                        "site {id} completed: {} tables, {} rows, {} bytes (attempt {})",
                        stats.tables, stats.rows, stats.bytes, r.attempts
                    )
                },
                |r| {
                    r.tables = Some(stats.tables);
                    r.rows = Some(stats.rows);
                    r.bytes = Some(stats.bytes);
                    r.error = None;
                    r.error_kind = None;
                },
            )
        })
    }

    /// A site failed; `ErrorKind::Timeout` makes it `timeout`, anything else `failed`.
    pub fn site_failed(&self, id: SiteId, kind: ErrorKind, err: &str) -> anyhow::Result<()> {
        let to = if kind == ErrorKind::Timeout {
            SiteStatus::Timeout
        } else {
            SiteStatus::Failed
        };
        Self::edge(|| {
            self.site_change(
                id,
                (&[], to),
                |r| {
                    format!(
                        "site {id} {to} ({kind}) after {}: {err}",
                        crate::report::count(r.attempts.into(), "attempt")
                    )
                },
                |r| {
                    r.error = Some(err.to_string());
                    r.error_kind = Some(kind);
                },
            )
        })
    }

    /// A site is deliberately not migrated; `reason` goes into `error`.
    pub fn site_skipped(&self, id: SiteId, reason: &str) -> anyhow::Result<()> {
        Self::edge(|| {
            self.site_change(
                id,
                (&[], SiteStatus::Skipped),
                |_| format!("site {id} skipped: {reason}"),
                |r| {
                    r.error = Some(reason.to_string());
                    r.error_kind = None;
                },
            )
        })
    }

    /// Records (replacing any earlier record) the backup of a site's original
    /// tables. Keeping the *first* backup across redos is the engine's call:
    /// it sees the recorded one in [`Session::snapshot`].
    pub fn record_site_backup(&self, id: SiteId, b: SiteBackup) -> anyhow::Result<()> {
        Self::edge(|| self.record_site_backup_inner(id, b))
    }

    fn record_site_backup_inner(&self, id: SiteId, b: SiteBackup) -> StateResult<()> {
        let mut g = self.inner();
        let mut rec = g
            .state
            .site(id)
            .cloned()
            .ok_or_else(|| TransitionError::UnknownSite {
                id: self.id(),
                site: id,
            })?;
        let line = format!("site {id}: backup of {} tables recorded", b.tables.len());
        rec.backup = Some(b);
        self.journal(&mut g, JournalOp::Site(rec), &line)
    }

    /// Records (replacing any earlier record) a site's media progress.
    pub fn record_site_media(&self, id: SiteId, m: SiteMedia, event: &str) -> anyhow::Result<()> {
        Self::edge(|| {
            let mut g = self.inner();
            let mut rec =
                g.state
                    .site(id)
                    .cloned()
                    .ok_or_else(|| TransitionError::UnknownSite {
                        id: self.id(),
                        site: id,
                    })?;
            rec.media = Some(Box::new(m));
            self.journal(&mut g, JournalOp::Site(rec), &format!("site {id}: {event}"))
        })
    }

    /// Records (replacing any earlier record) the backup of the network tables.
    pub fn record_network_backup(&self, b: SiteBackup) -> anyhow::Result<()> {
        let line = format!(
            "network tables: backup of {} tables recorded",
            b.tables.len()
        );
        Self::edge(|| {
            self.change(&line, |s| {
                s.network_backup = Some(b);
                Ok(())
            })
        })
    }

    /// Records how a `post_migration` command ended.
    pub fn hook_finished(&self, hook: HookRecord) -> anyhow::Result<()> {
        let line = format!(
            "post_migration: `{}` recorded: {}",
            hook.command, hook.status
        );
        Self::edge(|| {
            self.change(&line, |s| {
                s.hooks.retain(|h| h.command != hook.command);
                s.hooks.push(hook);
                Ok(())
            })
        })
    }

    /// Records that a `post_migration` command runs now, before it may start.
    pub fn hook_running(&self, hook: RunningHook) -> anyhow::Result<()> {
        let line = format!(
            "post_migration: `{}` runs as process group {} on {}",
            hook.command, hook.pgid, hook.host
        );
        Self::edge(|| {
            self.change(&line, |s| {
                s.running_hook = Some(hook);
                Ok(())
            })
        })
    }

    /// Forgets the running `post_migration` command: it ended, or was stopped.
    pub fn hook_gone(&self) -> anyhow::Result<()> {
        if self.inner().state.running_hook.is_none() {
            return Ok(());
        }
        Self::edge(|| {
            self.change("post_migration: no command runs", |s| {
                s.running_hook = None;
                Ok(())
            })
        })
    }

    /// The `post_migration` command recorded as running, if any.
    pub fn running_hook(&self) -> Option<RunningHook> {
        self.inner().state.running_hook.clone()
    }

    /// Forgets how the `post_migration` commands ended (the sites changed,
    /// so they must all run again).
    pub fn hooks_reset(&self) -> anyhow::Result<()> {
        if self.inner().state.hooks.is_empty() {
            return Ok(());
        }
        Self::edge(|| {
            self.change("post_migration: commands to run again", |s| {
                s.hooks.clear();
                Ok(())
            })
        })
    }

    /// How `command` ended, if it ran to the end since the last reset.
    pub fn hook_record(&self, command: &str) -> Option<HookRecord> {
        self.inner()
            .state
            .hooks
            .iter()
            .find(|h| h.command == command)
            .cloned()
    }

    /// Records how much space this migration's backup tables hold.
    pub fn set_backup_bytes(&self, bytes: u64) -> anyhow::Result<()> {
        Self::edge(|| {
            self.change(&format!("backup tables hold {bytes} bytes"), |s| {
                s.backup_bytes = Some(bytes);
                Ok(())
            })
        })
    }
}
