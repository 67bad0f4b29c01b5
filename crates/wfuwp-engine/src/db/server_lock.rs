//! What the server says about a database: whether two connections reach the
//! same one, and an exclusive lock on it that every wfuwp run respects,
//! whichever machine or logs dir it runs from.
//!
//! Both rest on MySQL's named locks (`GET_LOCK`): a lock belongs to the
//! server, not to the client or to how the client got there, so a socket
//! and a TCP connection, two host names or a proxy all see the same lock.
//! The lock is tied to one connection and released by the server when that
//! connection ends, so a killed run never leaves it behind. See
//! `docs/locking.md`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::sync::Mutex;

use super::roles;
use crate::state::lock::LockInfo;
use crate::stop::Stop;

/// How long a new run waits for a lock held by a connection the server has
/// not yet noticed is gone (its client was just killed).
const ACQUIRE_WAIT_SECS: u32 = 3;

/// How often the holder checks that it still holds the lock.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// How long the lock connection may take to confirm the lock. A network
/// that drops packets answers nothing, ever: without a bound the check (and
/// every write waiting on it) would hang the run with no word of why, where
/// it must stop as for a lock lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// MySQL's limit on the length of a lock name.
const MAX_LOCK_NAME: usize = 64;

/// Whether connections `a` and `b` reach the same database on the same
/// server, as the server tells (not as the configuration reads).
pub async fn same_database(a: &mut Conn, b: &mut Conn) -> mysql_async::Result<bool> {
    let probe = format!("wfuwp-probe-{}", uuid::Uuid::new_v4().simple());
    let got: Option<Option<i64>> = a.exec_first("SELECT GET_LOCK(?, 0)", (&probe,)).await?;
    let seen: Option<Option<u64>> = b.exec_first("SELECT IS_USED_LOCK(?)", (&probe,)).await?;
    let _: Option<Option<i64>> = a.exec_first("SELECT RELEASE_LOCK(?)", (&probe,)).await?;
    if got.flatten() != Some(1) || seen.flatten().is_none() {
        return Ok(false);
    }
    let (db_a, case_insensitive) = current_database(a).await?;
    let (db_b, _) = current_database(b).await?;
    Ok(match (db_a, db_b) {
        (Some(x), Some(y)) if case_insensitive => x.eq_ignore_ascii_case(&y),
        (Some(x), Some(y)) => x == y,
        _ => false,
    })
}

async fn current_database(c: &mut Conn) -> mysql_async::Result<(Option<String>, bool)> {
    let row: Option<(Option<String>, u64)> = c
        .query_first("SELECT DATABASE(), @@lower_case_table_names")
        .await?;
    Ok(row.map_or((None, false), |(db, lower)| (db, lower != 0)))
}

/// The name of the lock that guards `database` on its server.
pub fn lock_name(database: &str) -> String {
    let name = format!("wfuwp-target:{database}");
    if name.len() <= MAX_LOCK_NAME {
        return name;
    }
    // Database names may be 64 characters: keep the lock name unique and short.
    let hash = database.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let head: String = database.chars().take(MAX_LOCK_NAME - 31).collect();
    format!("wfuwp-target:{head}:{hash:016x}")
}

/// Who holds a database's lock, as far as the server and this machine can tell.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ServerLockHeld {
    /// Environment name of the locked database.
    pub env: String,
    /// The locked database.
    pub database: String,
    /// Server connection id of the holder.
    pub connection_id: u64,
    /// `user`, `host:port` and idle seconds of that connection, when the
    /// server shows them (it needs the PROCESS privilege for other users).
    pub connection: Option<(String, String, u64)>,
    /// A run on this machine, from the logs dir's lock files, when there is one.
    pub local: Option<LockInfo>,
}

impl ServerLockHeld {
    fn describe(&self) -> String {
        let mut s = format!(
            "database {} of environment '{}' is locked by another wfuwp run: server connection {}",
            self.database, self.env, self.connection_id
        );
        if let Some((user, host, idle)) = &self.connection {
            s.push_str(&format!(" (user '{user}' from {host}, idle {idle} s)"));
        }
        s.push('.');
        match &self.local {
            Some(l) => s.push_str(&format!(
                " On this machine, process {} on {} runs migration {} (started {}). Wait for it to finish.",
                l.pid,
                l.host,
                l.migration_id.as_deref().unwrap_or("?"),
                l.started
            )),
            None => s.push_str(
                " No run in this logs dir holds it: it is a run from another machine or logs dir. \
                 Wait for it to finish; if you are sure none is running, the connection is stale and a \
                 database administrator can end it with KILL on that connection id.",
            ),
        }
        s
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ServerLockError {
    /// Another run holds it (exit 4).
    #[error(transparent)]
    Held(#[from] ServerLockHeld),
    /// The server could not be asked.
    #[error("cannot take the lock on database {database} of '{env}': {source}")]
    Server {
        /// Environment name.
        env: String,
        /// The database.
        database: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
}

/// An exclusive, server-side lock on a target database, held for a whole
/// run by a dedicated connection. When that connection is lost, the run is
/// stopped (through its [`Stop`]) and every later [`TargetLock::ensure`]
/// fails, so nothing is written to the target unlocked.
#[derive(Clone)]
pub struct TargetLock {
    inner: Arc<Held>,
}

struct Held {
    conn: Mutex<Option<Conn>>,
    name: String,
    env: String,
    database: String,
    lost: AtomicBool,
    stop: Stop,
}

impl TargetLock {
    /// Takes the lock on `database` (environment `env`) through a new
    /// connection from `opts`; `local` describes a run of this logs dir
    /// that holds the target's file lock, for the refusal message.
    pub async fn acquire(
        opts: &Opts,
        env: &str,
        database: &str,
        local: impl FnOnce() -> Option<LockInfo>,
        stop: Stop,
    ) -> Result<TargetLock, ServerLockError> {
        let name = lock_name(database);
        let server = |source| ServerLockError::Server {
            env: env.to_string(),
            database: database.to_string(),
            source,
        };
        let mut conn = roles::open(opts).await.map_err(server)?;
        // An idle lock connection must outlive a short server wait_timeout.
        conn.query_drop("SET SESSION wait_timeout = 31536000")
            .await
            .map_err(server)?;
        let got: Option<Option<i64>> = conn
            .exec_first("SELECT GET_LOCK(?, ?)", (&name, ACQUIRE_WAIT_SECS))
            .await
            .map_err(server)?;
        if got.flatten() != Some(1) {
            let held = holder(&mut conn, &name, env, database, local()).await;
            let _ = conn.disconnect().await;
            return Err(held.map_err(server)?.into());
        }
        let lock = TargetLock {
            inner: Arc::new(Held {
                conn: Mutex::new(Some(conn)),
                name,
                env: env.to_string(),
                database: database.to_string(),
                lost: AtomicBool::new(false),
                stop,
            }),
        };
        lock.spawn_heartbeat();
        Ok(lock)
    }

    /// Fails unless the lock is still held (asks the server).
    pub async fn ensure(&self) -> Result<(), LockLost> {
        let h = &self.inner;
        if h.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error());
        }
        let mut guard = h.conn.lock().await;
        let held = match guard.as_mut() {
            Some(c) => {
                let asked = c.exec_first::<Option<i64>, _, _>(
                    "SELECT IS_USED_LOCK(?) = CONNECTION_ID()",
                    (&h.name,),
                );
                match tokio::time::timeout(ANSWER_WITHIN, asked).await {
                    Ok(answer) => answer.ok().flatten().flatten() == Some(1),
                    Err(_) => false,
                }
            }
            None => false,
        };
        if held {
            return Ok(());
        }
        *guard = None;
        drop(guard);
        self.mark_lost();
        Err(self.lost_error())
    }

    /// Releases the lock (also released when the process ends).
    pub async fn release(&self) {
        let conn = self.inner.conn.lock().await.take();
        if let Some(mut c) = conn {
            let _: Result<Option<Option<i64>>, _> = c
                .exec_first("SELECT RELEASE_LOCK(?)", (&self.inner.name,))
                .await;
            let _ = c.disconnect().await;
        }
    }

    fn mark_lost(&self) {
        if !self.inner.lost.swap(true, Ordering::SeqCst) {
            self.inner.stop.because(self.lost_error().to_string());
        }
    }

    fn lost_error(&self) -> LockLost {
        LockLost {
            env: self.inner.env.clone(),
            database: self.inner.database.clone(),
        }
    }

    fn spawn_heartbeat(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let Some(inner) = weak.upgrade() else { return };
                let lock = TargetLock { inner };
                if lock.inner.conn.lock().await.is_none() {
                    return; // released
                }
                if lock.ensure().await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The run no longer holds its lock on the target.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "lost the lock on database {database} of '{env}' (the connection holding it ended, or stopped answering); \
     stopped before writing to it unlocked. Nothing is lost: resume the migration when the server is reachable"
)]
pub struct LockLost {
    /// Environment name.
    pub env: String,
    /// The database.
    pub database: String,
}

async fn holder(
    conn: &mut Conn,
    name: &str,
    env: &str,
    database: &str,
    local: Option<LockInfo>,
) -> mysql_async::Result<ServerLockHeld> {
    let id: Option<Option<u64>> = conn.exec_first("SELECT IS_USED_LOCK(?)", (name,)).await?;
    let connection_id = id.flatten().unwrap_or(0);
    let connection: Option<(String, String, u64)> = conn
        .exec_first(
            "SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = ?",
            (connection_id,),
        )
        .await
        .unwrap_or(None);
    Ok(ServerLockHeld {
        env: env.to_string(),
        database: database.to_string(),
        connection_id,
        connection,
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_the_server_limit_and_stay_distinct() {
        assert_eq!(lock_name("wp_uat"), "wfuwp-target:wp_uat");
        let a = lock_name(&"a".repeat(64));
        let b = lock_name(&format!("{}b", "a".repeat(63)));
        assert!(a.len() <= MAX_LOCK_NAME && b.len() <= MAX_LOCK_NAME);
        assert_ne!(a, b);
    }
}
