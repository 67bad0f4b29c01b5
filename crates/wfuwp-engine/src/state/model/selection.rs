//! Which sites a resume processes, by their status and the resume flags.

use super::*;

/// The `--resume` flags that select sites (docs/phases.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--skip-failed`: leave `failed` sites untouched.
    pub skip_failed: bool,
    /// `--skip-timeouts`: leave `timeout` sites untouched.
    pub skip_timeouts: bool,
    /// `--retry-failed`: only `failed` and `timeout` sites.
    pub retry_failed: bool,
}

impl Selection {
    /// Whether a site in `status` is processed by a run with these flags.
    pub fn selects(self, status: SiteStatus) -> bool {
        match status {
            SiteStatus::Pending | SiteStatus::InProgress => !self.retry_failed,
            SiteStatus::Failed => !self.skip_failed,
            SiteStatus::Timeout => !self.skip_timeouts,
            SiteStatus::Completed
            | SiteStatus::Skipped
            | SiteStatus::Unchanged
            | SiteStatus::Drifted => false,
        }
    }
}
