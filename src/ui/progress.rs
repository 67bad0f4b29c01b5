//! The engine's events on the terminal ([`Terminal`]), and the live progress
//! of a run: an indicatif bar with one line per worker on a terminal, plain
//! periodic lines otherwise (logs, CI, cron).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wfuwp_engine::report::{Event, Reporter, Tick};
use wfuwp_engine::sites::SiteId;

use super::output;

/// The terminal's [`Reporter`]: lines through [`output`] (`--quiet`,
/// `-v`, colours), and from the start of a run to its end a live display
/// that warnings and notes are printed above.
#[derive(Default)]
pub struct Terminal {
    live: Mutex<Option<Progress>>,
}

impl Terminal {
    /// A reporter with no run going yet.
    pub fn new() -> Arc<Terminal> {
        Arc::new(Terminal::default())
    }

    fn live(&self) -> Option<Progress> {
        self.live.lock().ok().and_then(|l| l.clone())
    }
}

impl Reporter for Terminal {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Info(line) => output::info(line),
            // Found again by every load of the same file: said once.
            Event::Notice(line) => output::warn_once(line),
            Event::Warning(line) => match self.live() {
                Some(p) => p.warn(line),
                None => output::warn(line),
            },
            Event::Note(line) => match self.live() {
                Some(p) => p.note(line),
                None => output::info(line),
            },
            Event::RunStarted { sites, workers } => {
                if let Ok(mut live) = self.live.lock() {
                    *live = Some(Progress::new(sites, workers));
                }
            }
            Event::Table {
                worker,
                site,
                table,
            } => {
                if let Some(p) = self.live() {
                    p.table(worker, site, table);
                }
            }
            Event::Media { worker, site, tick } => {
                if let Some(p) = self.live() {
                    p.media(worker, site, tick);
                }
            }
            Event::SiteDone {
                worker,
                site,
                ok,
                note,
            } => {
                if let Some(p) = self.live() {
                    p.site_done(worker, site, ok, note);
                }
            }
            Event::RunFinished => {
                if let Some(p) = self.live() {
                    p.finish();
                }
            }
        }
    }
}

/// How often a non-terminal run prints a progress line.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Cheap to clone; every worker holds one.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    bars: Option<Bars>,
    plain: Mutex<Plain>,
    total: u64,
}

struct Bars {
    _multi: MultiProgress,
    overall: ProgressBar,
    workers: Vec<ProgressBar>,
}

struct Plain {
    done: u64,
    failed: u64,
    media_bytes: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// A display for `total` sites and `workers` workers.
    pub fn new(total: u64, workers: usize) -> Self {
        let bars =
            (output::interactive() && output::verbosity() >= 1).then(|| Bars::new(total, workers));
        let now = Instant::now();
        let plain = Plain {
            done: 0,
            failed: 0,
            media_bytes: 0,
            started: now,
            last_line: now,
        };
        Progress {
            inner: Arc::new(Inner {
                bars,
                plain: Mutex::new(plain),
                total,
            }),
        }
    }

    /// Worker `worker` is copying `table` of site `site`.
    pub fn table(&self, worker: usize, site: SiteId, table: &str) {
        if let Some(b) = &self.inner.bars {
            if let Some(bar) = b.workers.get(worker) {
                bar.set_message(format!("site {site}: {table}"));
            }
        } else {
            output::detail(format!("  site {site}: copying {table}"));
        }
    }

    /// Worker `worker` is copying site `site`'s uploads.
    pub fn media(&self, worker: usize, site: SiteId, m: Tick) {
        if let Ok(mut p) = self.inner.plain.lock() {
            p.media_bytes += m.added;
        }
        let line = format!(
            "site {site}: media {}/{} objects, {} of {}",
            m.objects.0,
            m.objects.1,
            output::size(m.bytes.0),
            output::size(m.bytes.1)
        );
        match &self.inner.bars {
            Some(b) => {
                if let Some(bar) = b.workers.get(worker) {
                    bar.set_message(line);
                }
            }
            // Per object would flood a log: the step's start and end only.
            None if m.objects.0 == 0 || m.objects.0 == m.objects.1 => {
                output::detail(format!("  {line}"))
            }
            None => {}
        }
    }

    /// A site finished (`ok` false for failed or timed out).
    pub fn site_done(&self, worker: usize, site: SiteId, ok: bool, note: &str) {
        let Ok(mut p) = self.inner.plain.lock() else {
            return;
        };
        p.done += 1;
        if !ok {
            p.failed += 1;
        }
        match &self.inner.bars {
            Some(b) => {
                b.overall.inc(1);
                if let Some(bar) = b.workers.get(worker) {
                    bar.set_message("idle");
                }
                if !ok {
                    b.overall.println(format!("site {site}: {note}"));
                }
            }
            None => {
                if !ok {
                    output::info(format!("site {site}: {note}"));
                }
                if p.last_line.elapsed() >= PLAIN_INTERVAL || p.done == self.inner.total {
                    p.last_line = Instant::now();
                    output::info(p.line(self.inner.total));
                }
            }
        }
    }

    /// A warning from the engine, printed above the live display.
    pub fn warn(&self, msg: impl AsRef<str>) {
        match &self.inner.bars {
            Some(b) => b.overall.suspend(|| output::warn(msg)),
            None => output::warn(msg),
        }
    }

    /// A line about the run as a whole (e.g. "throttled: …"): above the bars
    /// on a terminal, a status line otherwise.
    pub fn note(&self, line: &str) {
        match &self.inner.bars {
            Some(b) => b.overall.println(line),
            None => output::info(line),
        }
    }

    /// Clears the live display.
    pub fn finish(&self) {
        if let Some(b) = &self.inner.bars {
            for w in &b.workers {
                w.finish_and_clear();
            }
            b.overall.finish();
        }
    }
}

impl Plain {
    fn line(&self, total: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.done as f64 / secs;
        let eta = if rate > 0.0 {
            ((total.saturating_sub(self.done)) as f64 / rate) as u64
        } else {
            0
        };
        let media = if self.media_bytes > 0 {
            format!(
                ", media {} copied ({}/s)",
                output::size(self.media_bytes),
                output::size((self.media_bytes as f64 / secs) as u64)
            )
        } else {
            String::new()
        };
        format!(
            "sites: {}/{} done ({} failed), {:.1} sites/min, ETA {}m{:02}s{media}",
            self.done,
            total,
            self.failed,
            rate * 60.0,
            eta / 60,
            eta % 60
        )
    }
}

impl Bars {
    fn new(total: u64, workers: usize) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sites  {per_sec}  ETA {eta}  {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let workers = (0..workers)
            .map(|i| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(&format!("  worker {}: {{msg}}", i + 1))
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message("idle");
                bar.enable_steady_tick(Duration::from_millis(500));
                bar
            })
            .collect();
        Bars {
            _multi: multi,
            overall,
            workers,
        }
    }
}
