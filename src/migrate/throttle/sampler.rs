//! The sampler: one task per run that reads `SHOW GLOBAL STATUS` on the
//! source and the target every [`SAMPLE_EVERY`], closes the gate while a
//! value is above `--max-load`, and stops the run (paused, resumable) when
//! one is above `--critical-load`.
//!
//! One connection per server, however many workers: asking once per worker
//! and statement would add the very load it is meant to spare. A server that
//! cannot be read is not throttled on (the workers find out soon enough
//! whether it is gone): a broken sampler must never hang a run.

use std::sync::{Arc, Weak};
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::time::Instant;

use super::spec::{Excess, LoadLimits, Readings};
use super::{Shared, Throttle};
use crate::db::roles;
use crate::interrupt::Interrupt;
use crate::migrate::engine::Endpoint;
use crate::state::store::ProgressLog;
use crate::ui::progress::Progress;

/// How often the servers are read: often enough to react within seconds,
/// rarely enough to cost nothing (one small query per server).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// A reading slower than this counts as failed (its server is not throttled on).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// While throttled, how often the progress log says so again.
const REPEAT_EVERY: Duration = Duration::from_secs(60);

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
    /// The last reading failed (said once, not every time).
    failing: bool,
}

impl Server {
    async fn read(&mut self) -> mysql_async::Result<Readings> {
        if self.conn.is_none() {
            self.conn = Some(roles::open(&self.opts).await?);
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
                failing: false,
            };
            let readings = server.read().await.map_err(|source| ThrottleError::Read {
                env: side.env.clone(),
                source,
            })?;
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
        progress: Progress,
        interrupt: Interrupt,
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
            progress,
            interrupt,
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
    progress: Progress,
    interrupt: Interrupt,
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
        let stop = self.interrupt.clone();
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
            if self.interrupt.is_set() {
                return;
            }
        }
    }

    async fn read_all(&mut self) -> Vec<Option<Readings>> {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for s in &mut self.sampler.servers {
            match s.read_bounded().await {
                Ok(r) => {
                    if std::mem::replace(&mut s.failing, false) {
                        notes.push(format!("load of {} readable again", s.env));
                    }
                    out.push(Some(r));
                }
                Err(e) => {
                    if !std::mem::replace(&mut s.failing, true) {
                        notes.push(format!(
                            "cannot read the load of {} ({e}); its limits are not checked until it answers",
                            s.env
                        ));
                    }
                    out.push(None);
                }
            }
        }
        for n in notes {
            self.say(&n);
        }
        out
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
            self.interrupt.stop(format!(
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
        self.progress.note(line);
    }
}
