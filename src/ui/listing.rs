//! `--list-migrations` as a table, and the one-line progress of a migration
//! that the resume prompts show.

use wfuwp_engine::state::{ListedMigration, MigrationStatus};

use crate::ui::output;
use crate::ui::table::{Align, Table};

/// The listing's table, one row per migration.
pub fn table(migrations: &[ListedMigration]) -> Table {
    let mut t = Table::new(&[
        ("ID", Align::Left),
        ("SOURCE → TARGET", Align::Left),
        ("STATUS", Align::Left),
        ("DONE", Align::Right),
        ("FAILED", Align::Right),
        ("TIMEOUTS", Align::Right),
        ("STARTED (UTC)", Align::Left),
        ("DURATION", Align::Right),
        ("BACKUPS", Align::Right),
        ("MEDIA", Align::Right),
        ("NOW", Align::Left),
    ]);
    for m in migrations {
        t.row(vec![
            m.migration_id.clone(),
            format!("{} → {}", m.source_env, m.target_env),
            status_text(m),
            format!("{}/{}", m.completed_sites, m.total_sites),
            m.failed_sites.to_string(),
            m.timeout_sites.to_string(),
            m.start_time.format("%Y-%m-%d %H:%M").to_string(),
            duration(m.duration_seconds),
            m.backup_bytes.map_or("-".into(), output::size),
            m.media.map_or("-".into(), |t| {
                format!(
                    "{}/{} obj, {}",
                    t.copied,
                    t.objects,
                    output::size(t.bytes_copied)
                )
            }),
            now_text(m),
        ]);
    }
    t
}

fn status_text(m: &ListedMigration) -> String {
    // `running` without a live lock holder means the process died.
    match (m.status, &m.locked_by) {
        (MigrationStatus::Running, None) => "interrupted".into(),
        (s, _) => s.to_string(),
    }
}

fn now_text(m: &ListedMigration) -> String {
    match (&m.locked_by, m.resumable) {
        (Some(l), _) => format!("running (pid {}, {})", l.pid, l.host),
        (None, true) => "resumable".into(),
        (None, false) => "-".into(),
    }
}

/// `90061` → `25h01m`; short runs in minutes and seconds.
fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m"),
    }
}

/// "paused, 40/50 sites done, 2 failed, …" for prompts and refusals.
pub fn progress_text(m: &ListedMigration) -> String {
    format!(
        "{}, {}/{} sites done, {} failed, {} timed out, started {}",
        status_text(m),
        m.completed_sites,
        m.total_sites,
        m.failed_sites,
        m.timeout_sites,
        m.start_time.format("%Y-%m-%d %H:%M UTC")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(65), "1m05s");
        assert_eq!(duration(90061), "25h01m");
    }
}
