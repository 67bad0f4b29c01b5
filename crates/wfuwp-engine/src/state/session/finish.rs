//! How a run ends: the outcome it earned, the final status, the summary.

use chrono::Utc;

use super::*;

impl Session {
    /// The cleanup phase's part in the migration directory: removes the
    /// temporary files of state writes that killed runs left, or with
    /// `--keep-files` keeps them for inspection and says so in the log.
    pub fn clean_work_dir(&self) {
        let keep = self.config.options.keep_files;
        let mut g = self.inner();
        let n = if keep {
            store::stale_temps(&self.dir).len()
        } else {
            store::remove_stale_temps(&self.dir)
        };
        if n > 0 {
            let done = if keep {
                "kept (--keep-files)"
            } else {
                "removed"
            };
            g.log.line(&format!(
                "cleanup: {n} temporary files of interrupted state writes {done}"
            ));
        }
    }

    /// The status a run should end with: `completed` when every site is
    /// completed or skipped and no phase failed, else `failed`.
    pub fn outcome(&self) -> MigrationStatus {
        let g = self.inner();
        let c = g.state.counts();
        let phase_failed = g
            .state
            .phases
            .iter()
            .any(|p| p.status == PhaseStatus::Failed);
        if c.completed + c.skipped == c.total && !phase_failed {
            MigrationStatus::Completed
        } else {
            MigrationStatus::Failed
        }
    }

    /// Ends the run: sets the status and `endTime`, writes the state and
    /// `migration-summary.json` (with `extra_summary` merged in), releases the locks.
    pub fn finish(
        self,
        status: MigrationStatus,
        extra_summary: serde_json::Value,
    ) -> anyhow::Result<Summary> {
        Self::edge(|| self.finish_inner(status, extra_summary))
    }

    fn finish_inner(
        &self,
        status: MigrationStatus,
        extra: serde_json::Value,
    ) -> StateResult<Summary> {
        let mut g = self.inner();
        let mut next = g.state.clone();
        self.final_status(&mut next, status)?;
        next.end_time = Some(Utc::now());
        next.last_save_time = Utc::now();
        let Inner {
            state,
            journal,
            log,
            ..
        } = &mut *g;
        store::compact(&self.dir, &next, journal)?;
        *state = next;
        let mut summary = Summary::of(state, self.run_start, extra);
        summary.skip_backup = self.config.options.skip_backup;
        store::write_json(&self.dir.join(store::SUMMARY_FILE), &summary)?;
        let c = state.counts();
        log.line(&format!(
            "run {} ended: {status}; {} of {} sites completed, {} failed, {} timed out, {} skipped",
            state.runs, c.completed, c.total, c.failed, c.timeout, c.skipped
        ));
        Ok(summary)
    }

    fn final_status(&self, next: &mut MigrationState, status: MigrationStatus) -> StateResult<()> {
        match self.kind {
            SessionKind::Rollback if status == next.status => return Ok(()),
            SessionKind::Rollback if status == MigrationStatus::RolledBack => {
                if next.rollback.as_ref().map(|r| r.status) != Some(RollbackStatus::Completed) {
                    return Err(wrong(
                        next,
                        "it cannot be marked rolled_back before rollback_finished(None)",
                    ));
                }
            }
            SessionKind::Rollback => {}
            SessionKind::Run if status == MigrationStatus::Completed => {
                let c = next.counts();
                if c.completed + c.skipped != c.total {
                    return Err(wrong(
                        next,
                        format!(
                            "it cannot be completed: {} of {} sites are not completed",
                            c.total - c.completed - c.skipped,
                            c.total
                        ),
                    ));
                }
            }
            SessionKind::Run => {}
        }
        if status != MigrationStatus::Completed {
            // Interrupted work is not done; say so rather than leave "in_progress".
            next.recover_interrupted();
        }
        next.set_status(status)?;
        Ok(())
    }
}
