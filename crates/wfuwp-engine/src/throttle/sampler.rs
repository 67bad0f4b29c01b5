//! The sampler: one task per run that reads `SHOW GLOBAL STATUS` on the
//! source and the target every [`SAMPLE_EVERY`], closes the gate while a
//! value is above `--max-load`, and stops the run (paused, resumable) when
//! one is above `--critical-load`.
//!
//! One connection per server, however many workers: asking once per worker
//! and statement would add the very load it is meant to spare. A reading
//! that fails is not a low reading: the connection is opened again at once,
//! and while a server cannot be read its last reading stands, so a run that
//! waits for a busy server keeps waiting. It does not wait blind for ever:
//! after `GIVE_UP` (five minutes) without a reading of a server that was above
//! `--max-load`, the run stops (paused, resumable).

use std::sync::{Arc, Weak};
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::time::Instant;

use super::spec::{Excess, LoadLimits, Readings};
use super::{Shared, Throttle};
use crate::db::endpoint::Endpoint;
use crate::db::roles;
use crate::report::{Event, Reporter};
use crate::state::store::ProgressLog;
use crate::stop::Stop;

/// How often the servers are read: often enough to react within seconds,
/// rarely enough to cost nothing (one small query per server).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// A reading slower than this counts as failed (its server is not throttled on).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// While throttled, how often the progress log says so again.
const REPEAT_EVERY: Duration = Duration::from_secs(60);
/// How long a server above `--max-load` may go unread before the run stops
/// rather than wait on a reading that may never come.
const GIVE_UP: Duration = Duration::from_secs(300);
/// The sampler connection's own `wait_timeout`: it is used every
/// [`SAMPLE_EVERY`], but a managed server's may be shorter than that.
const SESSION_WAIT_TIMEOUT: u32 = 3600;

/// The limits of a run: `--max-load` and `--critical-load`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadSpec {
    /// Above any of these, workers wait.
    pub max: LoadLimits,
    /// Above any of these, the run stops.
    pub critical: LoadLimits,
}

impl LoadSpec {
    /// No limits: no sampler, the gate never closes.
    pub fn off() -> LoadSpec {
        LoadSpec::default()
    }

    fn is_off(&self) -> bool {
        self.max.is_off() && self.critical.is_off()
    }
}

/// Why the limits cannot be watched (found at preflight, before any work).
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// `SHOW GLOBAL STATUS` failed.
    #[error("cannot read the load of '{env}' (SHOW GLOBAL STATUS): {source}. Check that its server answers and lets this user run SHOW GLOBAL STATUS, or run with --max-load off")]
    Read {
        /// The environment.
        env: String,
        /// The driver's error.
        source: mysql_async::Error,
    },
    /// A limit names a variable the server does not report as a number.
    #[error("{flag} names '{variable}', which the server of '{env}' does not report as a number in SHOW GLOBAL STATUS. Check the spelling (e.g. Threads_running) or leave it out")]
    UnknownVariable {
        /// `--max-load` or `--critical-load`.
        flag: &'static str,
        /// The variable as given.
        variable: String,
        /// The environment.
        env: String,
    },
}

impl ThrottleError {
    /// Whether the operator's flags are at fault (exit 2), not a server.
    pub fn is_usage(&self) -> bool {
        matches!(self, ThrottleError::UnknownVariable { .. })
    }
}

/// One watched server.
struct Server {
    env: String,
    opts: Opts,
    conn: Option<Conn>,
    /// The last reading that succeeded: it stands while readings fail.
    last: Option<Readings>,
    /// Since when readings have failed (said once, not every time).
    failing_since: Option<Instant>,
}

impl Server {
    async fn read(&mut self) -> mysql_async::Result<Readings> {
        if self.conn.is_none() {
            let mut conn = roles::open(&self.opts).await?;
            conn.query_drop(format!("SET SESSION wait_timeout = {SESSION_WAIT_TIMEOUT}"))
                .await?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Readings::default());
        };
        let rows: mysql_async::Result<Vec<(String, Option<String>)>> =
            conn.query("SHOW GLOBAL STATUS").await;
        match rows {
            Ok(rows) => Ok(Readings::from_rows(
                rows.into_iter()
                    .filter_map(|(name, value)| Some((name, value?))),
            )),
            Err(e) => {
                // Its protocol state is unknown now: the next reading reconnects.
                self.conn = None;
                Err(e)
            }
        }
    }

    async fn read_bounded(&mut self) -> Result<Readings, String> {
        match tokio::time::timeout(READ_TIMEOUT, self.read()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => {
                self.conn = None;
                Err(format!("no answer within {} s", READ_TIMEOUT.as_secs()))
            }
        }
    }

    /// A reading, through a new connection if the one held failed (the
    /// server or a proxy may have closed it); what to log about it; and the
    /// reading to judge: the new one, or while none comes the last one.
    async fn sample(&mut self) -> (Option<Readings>, Option<String>) {
        let first = self.read_bounded().await;
        let (reading, note) = match first {
            Ok(r) => (Ok(r), None),
            // `read` dropped the failed connection: this opens a new one.
            Err(lost) => match self.read_bounded().await {
                Ok(r) => (
                    Ok(r),
                    Some(format!(
                        "reading the load of {} failed ({lost}); reconnected",
                        self.env
                    )),
                ),
                Err(e) => (Err(e), None),
            },
        };
        match reading {
            Ok(r) => {
                let back = self
                    .failing_since
                    .take()
                    .map(|_| format!("load of {} readable again", self.env));
                self.last = Some(r);
                (self.last.clone(), note.or(back))
            }
            Err(e) => {
                let first_failure = self.failing_since.is_none();
                self.failing_since.get_or_insert_with(Instant::now);
                let note = first_failure.then(|| {
                    format!(
                        "cannot read the load of {} ({e}); its last reading stands until it answers \
                         (reconnecting every {} s)",
                        self.env,
                        SAMPLE_EVERY.as_secs()
                    )
                });
                (self.last.clone(), note)
            }
        }
    }

    /// How long a server whose last reading is above `limits` has gone
    /// unread, when it has.
    fn unread_while_over(&self, limits: &LoadLimits) -> Option<Duration> {
        let since = self.failing_since?;
        let over = self
            .last
            .as_ref()
            .is_some_and(|r| !limits.exceeded(&self.env, r).is_empty());
        over.then(|| since.elapsed())
    }
}

/// The limits checked against both servers, ready to start watching them.
pub struct Sampler {
    spec: LoadSpec,
    servers: Vec<Server>,
    first: Vec<Option<Readings>>,
}

impl Sampler {
    /// Reads both servers once and checks that each has every variable the
    /// limits name. Part of preflight: nothing has been written yet.
    pub async fn check(
        source: &Endpoint,
        target: &Endpoint,
        spec: LoadSpec,
    ) -> Result<Sampler, ThrottleError> {
        let mut sampler = Sampler {
            spec,
            servers: Vec::new(),
            first: Vec::new(),
        };
        if sampler.spec.is_off() {
            return Ok(sampler);
        }
        for side in [source, target] {
            let mut server = Server {
                env: side.env.clone(),
                // Server-wide readings: no database selected, so the
                // sampler is never taken for a connection of the migration.
                opts: mysql_async::OptsBuilder::from_opts(side.opts.clone())
                    .db_name(None::<String>)
                    .into(),
                conn: None,
                last: None,
                failing_since: None,
            };
            let readings = server.read().await.map_err(|source| ThrottleError::Read {
                env: side.env.clone(),
                source,
            })?;
            server.last = Some(readings.clone());
            let flags = [
                ("--max-load", &sampler.spec.max),
                ("--critical-load", &sampler.spec.critical),
            ];
            for (flag, limits) in flags {
                if let Some(l) = limits.iter().find(|l| readings.get(&l.variable).is_none()) {
                    return Err(ThrottleError::UnknownVariable {
                        flag,
                        variable: l.variable.clone(),
                        env: side.env.clone(),
                    });
                }
            }
            sampler.servers.push(server);
            sampler.first.push(Some(readings));
        }
        Ok(sampler)
    }

    /// Judges the first readings (so a run that starts under load waits
    /// from its first unit of work), then watches the servers until the run
    /// ends or stops. `log` is the run's progress log, `migration_id` goes
    /// into the resume hint of a critical stop.
    pub fn start(
        mut self,
        log: ProgressLog,
        reporter: Arc<dyn Reporter>,
        stop: Stop,
        migration_id: String,
    ) -> Throttle {
        let throttle = Throttle::new(self.spec.clone());
        if self.servers.is_empty() {
            return throttle;
        }
        let first = std::mem::take(&mut self.first);
        let mut task = Task {
            sampler: self,
            log,
            reporter,
            stop,
            migration_id,
            last_said: Instant::now(),
        };
        task.judge(&throttle, &first);
        let gate = Arc::downgrade(&throttle.shared);
        tokio::spawn(task.run(gate));
        throttle
    }
}

struct Task {
    sampler: Sampler,
    log: ProgressLog,
    reporter: Arc<dyn Reporter>,
    stop: Stop,
    migration_id: String,
    last_said: Instant,
}

/// Opens the gate when the sampler ends, however it ends (run over, stop,
/// panic): nobody may be left waiting for readings that will never come.
struct OpenOnExit(Weak<Shared>);

impl Drop for OpenOnExit {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            Throttle { shared }.set(None);
        }
    }
}

impl Task {
    /// Holds the gate weakly: when the run drops its engine, the task ends.
    async fn run(mut self, gate: Weak<Shared>) {
        let _open = OpenOnExit(gate.clone());
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is now: start() judged that reading
        let stop = self.stop.clone();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.triggered() => return,
            }
            let Some(shared) = gate.upgrade() else {
                return;
            };
            // A stop must open the gate at once, not after a slow reading.
            let readings = tokio::select! {
                r = self.read_all() => r,
                _ = stop.triggered() => return,
            };
            self.judge(&Throttle { shared }, &readings);
            self.give_up_if_blind();
            if self.stop.is_set() {
                return;
            }
        }
    }

    async fn read_all(&mut self) -> Vec<Option<Readings>> {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for s in &mut self.sampler.servers {
            let (reading, note) = s.sample().await;
            out.push(reading);
            notes.extend(note);
        }
        for n in notes {
            self.say(&n);
        }
        out
    }

    /// Stops the run when a server that was above `--max-load` has not been
    /// read for [`GIVE_UP`]: waiting on is waiting blind, and going on would
    /// load a server last seen busy.
    fn give_up_if_blind(&self) {
        let spec = &self.sampler.spec;
        let blind = self
            .sampler
            .servers
            .iter()
            .find(|s| s.unread_while_over(&spec.max).is_some_and(|d| d >= GIVE_UP));
        if let Some(s) = blind {
            self.stop.because(format!(
                "cannot read the load of {} for {} minutes, and it was last above --max-load {}; stopped \
                 rather than wait blind or load a busy server. Resume with `wfuwp env-migrate --resume {}` \
                 once it answers",
                s.env,
                GIVE_UP.as_secs() / 60,
                spec.max,
                self.migration_id
            ));
        }
    }

    /// Applies the limits to one reading of every server.
    fn judge(&mut self, throttle: &Throttle, readings: &[Option<Readings>]) {
        let spec = &self.sampler.spec;
        let (mut critical, mut over): (Vec<Excess>, Vec<Excess>) = (Vec::new(), Vec::new());
        for (server, r) in self.sampler.servers.iter().zip(readings) {
            if let Some(r) = r {
                critical.extend(spec.critical.exceeded(&server.env, r));
                over.extend(spec.max.exceeded(&server.env, r));
            }
        }
        if let Some(c) = critical.first() {
            // The run's end logs and shows this cause once ("stopped: …").
            self.stop.because(format!(
                "critical load: {c} is above --critical-load {}={}; sites not finished stay pending. \
                 Resume with `wfuwp env-migrate --resume {}` once the load is down",
                c.variable, c.limit, self.migration_id
            ));
            return;
        }
        if over.is_empty() {
            if let Some(closed) = throttle.set(None) {
                self.say(&format!(
                    "load back under --max-load after {:.1} s throttled; work goes on",
                    closed.as_secs_f64()
                ));
            }
            return;
        }
        let why = over
            .iter()
            .map(Excess::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let newly = throttle.reason().is_none();
        throttle.set(Some(why.clone()));
        if newly || self.last_said.elapsed() >= REPEAT_EVERY {
            let max = spec.max.to_string();
            self.say(&format!(
                "throttled: {why} (above --max-load {max}); workers wait before their next site or table"
            ));
        }
    }

    fn say(&mut self, line: &str) {
        self.last_said = Instant::now();
        self.log.line(line);
        self.reporter.event(Event::Note(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server nobody answers for: a port just closed again.
    fn unreachable(last: Option<Readings>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Server {
            env: "prod".into(),
            opts: mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .into(),
            conn: None,
            last,
            failing_since: None,
        }
    }

    fn busy() -> Readings {
        Readings::from_rows([("Threads_running".to_string(), "31".to_string())])
    }

    #[tokio::test]
    async fn a_failed_reading_is_not_a_low_one() {
        let limits: LoadLimits = "Threads_running=25".parse().unwrap();
        let mut server = unreachable(Some(busy()));
        let (reading, note) = server.sample().await;
        assert_eq!(reading, Some(busy()), "the last reading stands");
        let note = note.expect("the failure is said");
        assert!(
            note.starts_with("cannot read the load of prod (")
                && note.contains("last reading stands"),
            "{note}"
        );
        assert!(server.unread_while_over(&limits).is_some());
        let (reading, note) = server.sample().await;
        assert_eq!(reading, Some(busy()));
        assert_eq!(note, None, "said once, not at every reading");
        // A server last seen under its limits is not waited for.
        let mut calm = unreachable(Some(Readings::from_rows([(
            "Threads_running".to_string(),
            "3".to_string(),
        )])));
        calm.sample().await;
        assert_eq!(calm.unread_while_over(&limits), None);
    }
}
