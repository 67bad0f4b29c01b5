//! Files of a migration directory (docs/state.md) and how they are written and read.
//!
//! Durability scheme: `migration-state.json` is a snapshot written atomically
//! (temp file in the same dir, fsync, rename, fsync dir). Site-level changes —
//! thousands per run — are appended to `migration-state.journal`, one JSON line
//! each, fdatasync'ed before the change is reported as recorded. The snapshot
//! carries `journalSeq`, the last journal record folded into it; readers load
//! the snapshot and replay newer journal lines, so they always see the latest
//! recorded state. Compaction writes a new snapshot, then empties the journal.
//! Reads never modify anything.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{io, StateError, StateResult};
use super::model::{MigrationState, SiteRecord, STATE_VERSION};
use crate::sites::SiteId;

/// `open(2)`'s flag that refuses to follow a symbolic link in the last
/// component of a path.
pub(crate) const O_NOFOLLOW: i32 = nix::fcntl::OFlag::O_NOFOLLOW.bits();

/// The state snapshot.
pub const STATE_FILE: &str = "migration-state.json";
/// Site-level changes since the snapshot.
pub const JOURNAL_FILE: &str = "migration-state.journal";
/// Source, target, options and fingerprints.
pub const CONFIG_FILE: &str = "migration-config.json";
/// One timestamped event per line.
pub const PROGRESS_LOG: &str = "migration-progress.log";
/// Written whenever a run ends.
pub const SUMMARY_FILE: &str = "migration-summary.json";
/// Held with an OS lock by the running process.
pub const LOCK_FILE: &str = ".migration-lock";

/// The directory of migration `id` under `logs_dir`.
pub fn migration_dir(logs_dir: &Path, id: &str) -> PathBuf {
    logs_dir.join(id)
}

/// Creates `path` (and missing parents) readable by the owner only.
pub fn create_private_dir(path: &Path) -> StateResult<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io("create directory", path))
}

/// Creates `path` as a new directory readable by the owner only; fails if
/// anything (a directory, a link) is already there. The parent must exist.
pub fn create_new_private_dir(path: &Path) -> StateResult<()> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io("create directory", path))
}

/// Opens `path` for appending, creating it owner-only.
///
/// Never through a symbolic link (`O_NOFOLLOW`): in a logs dir other users
/// can write, a planted link would make us append to, or truncate, the file
/// it points to. A hard link to another file is refused for the same reason.
pub fn open_append(path: &Path) -> StateResult<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(io("open", path))?;
    check_own_file(&file, path)?;
    Ok(file)
}

/// Reads a whole state file, never through a symbolic link: a planted link
/// would otherwise feed another file to the state machine (and its errors).
pub fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Creates `path` for appending; it must not exist yet (`O_EXCL`, which also
/// never follows a link).
pub fn create_append(path: &Path) -> StateResult<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create", path))
}

/// Refuses an opened file that is not a regular file with a single name:
/// writing to it would change something other than our own file.
pub fn check_own_file(file: &File, path: &Path) -> StateResult<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(io("inspect", path))?;
    let what = if !meta.is_file() {
        "not a regular file"
    } else if meta.nlink() > 1 {
        "a hard link to another file"
    } else {
        return Ok(());
    };
    Err(StateError::UnsafeFile {
        path: path.to_path_buf(),
        what,
    })
}

/// fsyncs a directory so that a rename or creation inside it is durable.
pub fn fsync_dir(dir: &Path) -> StateResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// Replaces `path` atomically and durably with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> StateResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("replace", path))
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is harmless but untidy.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    fsync_dir(dir)
}

/// Serializes `value` as pretty JSON and writes it with [`write_atomic`].
pub fn write_json(path: &Path, value: &impl Serialize) -> StateResult<()> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| io("serialize", path)(e.into()))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Removes the temporary files a killed writer left behind (call only under
/// the migration lock); returns how many there were.
pub fn remove_stale_temps(dir: &Path) -> usize {
    stale_temps(dir)
        .into_iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count()
}

/// The temporary files of atomic writes that never finished (a writer
/// killed between writing and renaming).
pub fn stale_temps(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
        })
        .map(|e| e.path())
        .collect()
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalRecord {
    /// Consecutive from the snapshot's `journalSeq` + 1.
    pub seq: u64,
    /// When it was recorded (becomes `lastSaveTime`).
    pub time: DateTime<Utc>,
    /// The change.
    pub op: JournalOp,
}

/// A change recorded in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JournalOp {
    /// A site's complete new record.
    Site(SiteRecord),
    /// A site swapped back by `--rollback`.
    RollbackSite(SiteId),
}

/// The append side of the journal.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating) the journal of `dir` for appending.
    pub fn open(dir: &Path) -> StateResult<Journal> {
        let path = dir.join(JOURNAL_FILE);
        Ok(Journal {
            file: open_append(&path)?,
            path,
        })
    }

    /// Creates the journal of a new migration directory (it must not exist).
    pub fn create(dir: &Path) -> StateResult<Journal> {
        let path = dir.join(JOURNAL_FILE);
        Ok(Journal {
            file: create_append(&path)?,
            path,
        })
    }

    /// Appends a record and waits until it is on disk.
    pub fn append(&mut self, rec: &JournalRecord) -> StateResult<()> {
        let mut line =
            serde_json::to_vec(rec).map_err(|e| io("serialize", &self.path)(e.into()))?;
        line.push(b'\n');
        // One write call per record: a kill mid-way leaves at most a torn last
        // line without its newline, which readers ignore.
        self.file
            .write_all(&line)
            .map_err(io("append to", &self.path))?;
        self.file.sync_data().map_err(io("sync", &self.path))
    }

    /// Empties the journal after a snapshot made its records redundant.
    pub fn reset(&mut self) -> StateResult<()> {
        self.file.set_len(0).map_err(io("truncate", &self.path))?;
        self.file.sync_all().map_err(io("sync", &self.path))
    }
}

/// Applies a journal record to the state.
fn apply(state: &mut MigrationState, rec: JournalRecord) -> Result<(), String> {
    match rec.op {
        JournalOp::Site(site) => state.put_site(site).map_err(|e| e.to_string())?,
        JournalOp::RollbackSite(id) => match state.rollback.as_mut() {
            Some(r) => r.sites_done.push(id),
            None => {
                return Err(format!(
                    "record {} rolls back site {id} but no rollback was started",
                    rec.seq
                ))
            }
        },
    }
    state.journal_seq = rec.seq;
    state.last_save_time = rec.time;
    Ok(())
}

/// Writes a snapshot of `state` and then empties the journal.
pub fn compact(dir: &Path, state: &MigrationState, journal: &mut Journal) -> StateResult<()> {
    write_json(&dir.join(STATE_FILE), state)?;
    journal.reset()
}

fn corrupt(dir: &Path, file: &str, reason: impl Into<String>) -> StateError {
    StateError::Corrupt {
        path: dir.join(file),
        reason: reason.into(),
        dir: dir.to_path_buf(),
    }
}

/// Parses a snapshot, reporting every problem with the file's path and reason.
pub fn parse_snapshot(dir: &Path, bytes: &[u8]) -> StateResult<MigrationState> {
    let path = dir.join(STATE_FILE);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(corrupt(dir, STATE_FILE, "the file is empty"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let reason = if e.is_eof() {
            format!("the file is truncated ({e})")
        } else {
            format!("it is not valid JSON ({e})")
        };
        corrupt(dir, STATE_FILE, reason)
    })?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        None => {
            return Err(corrupt(
                dir,
                STATE_FILE,
                "it has no numeric \"version\" field",
            ))
        }
        Some(v) if v > u64::from(STATE_VERSION) => {
            return Err(StateError::FutureVersion {
                path,
                found: v,
                supported: STATE_VERSION,
            })
        }
        Some(v) if v != u64::from(STATE_VERSION) => {
            return Err(corrupt(dir, STATE_FILE, format!("version {v} is unknown")))
        }
        Some(_) => {}
    }
    let state: MigrationState =
        serde_json::from_value(value).map_err(|e| corrupt(dir, STATE_FILE, e.to_string()))?;
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if state.migration_id != dir_name {
        return Err(corrupt(
            dir,
            STATE_FILE,
            format!(
                "migrationId '{}' does not match its directory '{dir_name}'",
                state.migration_id
            ),
        ));
    }
    Ok(state)
}

/// Outcome of replaying the journal over a snapshot.
enum Replay {
    Done,
    // A compaction happened between reading the snapshot and the journal.
    Raced,
}

fn replay(dir: &Path, state: &mut MigrationState, bytes: &[u8]) -> StateResult<Replay> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // The piece after the last newline is a record still being (or never
    // fully) written: it was not reported as recorded, so it does not count.
    lines.pop();
    for (n, line) in lines.into_iter().enumerate() {
        let rec: JournalRecord = serde_json::from_slice(line).map_err(|e| {
            corrupt(
                dir,
                JOURNAL_FILE,
                format!("line {} is not a journal record ({e})", n + 1),
            )
        })?;
        if rec.seq <= state.journal_seq {
            continue;
        }
        if rec.seq != state.journal_seq + 1 {
            return Ok(Replay::Raced);
        }
        apply(state, rec).map_err(|r| corrupt(dir, JOURNAL_FILE, r))?;
    }
    Ok(Replay::Done)
}

fn read_optional(path: &Path) -> StateResult<Vec<u8>> {
    match read_nofollow(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Loads the latest recorded state of the migration in `dir`, read-only.
pub fn load(dir: &Path) -> StateResult<MigrationState> {
    let path = dir.join(STATE_FILE);
    // A writer may compact between our two reads; a gap in sequence numbers
    // reveals it, and reading again then sees a consistent pair.
    for _ in 0..20 {
        let bytes = read_nofollow(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => corrupt(dir, STATE_FILE, "the file is missing"),
            _ => io("read", &path)(e),
        })?;
        let mut state = parse_snapshot(dir, &bytes)?;
        let journal = read_optional(&dir.join(JOURNAL_FILE))?;
        if let Replay::Done = replay(dir, &mut state, &journal)? {
            return Ok(state);
        }
    }
    Err(corrupt(
        dir,
        JOURNAL_FILE,
        "its sequence numbers do not follow the snapshot's journalSeq",
    ))
}

/// Reads a JSON file written by [`write_json`].
pub fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, file: &str) -> StateResult<T> {
    let path = dir.join(file);
    let bytes = read_nofollow(&path).map_err(io("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(dir, file, e.to_string()))
}

/// The progress log: one timestamped event per line.
#[derive(Debug)]
pub struct ProgressLog {
    file: File,
}

impl ProgressLog {
    /// Opens (creating) the log of `dir`.
    pub fn open(dir: &Path) -> StateResult<ProgressLog> {
        Ok(ProgressLog {
            file: open_append(&dir.join(PROGRESS_LOG))?,
        })
    }

    /// Creates the log of a new migration directory (it must not exist).
    pub fn create(dir: &Path) -> StateResult<ProgressLog> {
        Ok(ProgressLog {
            file: create_append(&dir.join(PROGRESS_LOG))?,
        })
    }

    /// Appends one event. Not fsynced: the log is for people, the state is the
    /// record; a write that reached the kernel survives a killed process anyway.
    pub fn line(&mut self, msg: &str) {
        let ts = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // Newlines inside a message would break "one event per line".
        let msg = msg.replace(['\n', '\r'], " ");
        let _ = self.file.write_all(format!("{ts} {msg}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::SiteStatus;

    fn setup() -> (tempfile::TempDir, PathBuf, MigrationState) {
        let tmp = tempfile::tempdir().unwrap();
        let id = "env-migrate-2025-08-17T12-34-56-abc123";
        let dir = tmp.path().join(id);
        create_private_dir(&dir).unwrap();
        let state = MigrationState::new(
            id.into(),
            "prod".into(),
            "uat".into(),
            &[1, 2, 3],
            Utc::now(),
        );
        write_json(&dir.join(STATE_FILE), &state).unwrap();
        (tmp, dir, state)
    }

    fn site_rec(state: &MigrationState, id: SiteId, seq: u64) -> JournalRecord {
        let rec = state
            .next_site(id, SiteStatus::InProgress, Utc::now())
            .unwrap();
        JournalRecord {
            seq,
            time: Utc::now(),
            op: JournalOp::Site(rec),
        }
    }

    #[test]
    fn snapshot_plus_journal_is_the_latest_state() {
        let (_t, dir, mut state) = setup();
        let mut j = Journal::open(&dir).unwrap();
        for (seq, id) in [(1, 1), (2, 2)] {
            let r = site_rec(&state, id, seq);
            j.append(&r).unwrap();
            apply(&mut state, r).unwrap();
        }
        assert_eq!(load(&dir).unwrap(), state);
        compact(&dir, &state, &mut j).unwrap();
        assert_eq!(fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len(), 0);
        assert_eq!(load(&dir).unwrap(), state);
    }

    #[test]
    fn torn_last_line_is_ignored_and_gaps_are_reported() {
        let (_t, dir, state) = setup();
        let r = site_rec(&state, 1, 1);
        let mut line = serde_json::to_vec(&r).unwrap();
        line.push(b'\n');
        line.extend_from_slice(b"{\"seq\":2,\"ti");
        fs::write(dir.join(JOURNAL_FILE), &line).unwrap();
        assert_eq!(
            load(&dir).unwrap().site(1).unwrap().status,
            SiteStatus::InProgress
        );
        let gap = site_rec(&state, 1, 5);
        fs::write(
            dir.join(JOURNAL_FILE),
            format!("{}\n", serde_json::to_string(&gap).unwrap()),
        )
        .unwrap();
        assert!(matches!(load(&dir), Err(StateError::Corrupt { .. })));
    }

    #[test]
    fn bad_snapshots_have_reasons() {
        let (_t, dir, _) = setup();
        let cases: [(&[u8], &str); 4] = [
            (b"", "empty"),
            (b"{\"version\": 1, \"migr", "truncated"),
            (b"not json", "not valid JSON"),
            (b"{\"version\": 0}", "unknown"),
        ];
        for (bytes, want) in cases {
            let err = parse_snapshot(&dir, bytes).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains(STATE_FILE), "{err}");
        }
        assert!(matches!(
            parse_snapshot(&dir, b"{\"version\": 7}"),
            Err(StateError::FutureVersion { found: 7, .. })
        ));
    }

    #[test]
    fn appends_never_follow_links() {
        let (t, dir, _) = setup();
        let victim = t.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(PROGRESS_LOG)).unwrap();
        let err = ProgressLog::open(&dir).unwrap_err();
        assert!(matches!(err, StateError::UnsafeFile { .. }), "{err}");
        assert!(err.to_string().contains(PROGRESS_LOG), "{err}");
        assert!(ProgressLog::create(&dir).is_err());
        fs::hard_link(&victim, dir.join(JOURNAL_FILE)).unwrap();
        let err = Journal::open(&dir).unwrap_err();
        assert!(err.to_string().contains("hard link"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let (_t, dir, _) = setup();
        let mode = fs::metadata(dir.join(STATE_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
