//! Throughput of the search-replace engine (docs/performance.md: stream mode
//! at least 200 MB/s on one core). Run with `cargo bench --bench replace`.
//!
//! Generates a realistic mysqldump-like input in memory (~200 MB, override
//! with `WFUWP_BENCH_MB`): `wp_options` rows with serialized settings,
//! `wp_posts` rows with block content (JSON with `\/`-escaped URLs) and plain
//! multibyte text, `wp_postmeta` rows with nested serialized arrays. Reports
//! MB/s of input for stream mode and for the value API, with pairs that match
//! (the usual prod → uat tokens) and with pairs that never match (fast path).

use std::hint::black_box;
use std::io;
use std::time::Instant;

use wfuwp_replace::leftovers::Scanner;
use wfuwp_replace::{stream_sql_dump, Replacer, ValueStats};

/// Small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "university",
    "students",
    "research",
    "campus",
    "faculty",
    "library",
    "événement",
    "über",
    "日本語",
    "program",
    "alumni",
    "athletics",
    "news",
    "deacon",
    "admissions",
    "graduate",
    "course",
    "science",
    "art",
];

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s
}

fn ser_str(v: &str) -> String {
    format!("s:{}:\"{}\";", v.len(), v)
}

fn serialized_option(rng: &mut Rng, site: usize) -> String {
    let n = 3 + rng.below(8);
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&ser_str(&format!("key_{i}")));
        match rng.below(4) {
            0 => body.push_str(&ser_str(&format!(
                "https://www.wfu.edu/site{site}/page-{i}/"
            ))),
            1 => body.push_str(&format!("i:{};", rng.next() % 100_000)),
            2 => body.push_str(&ser_str(&words(rng, 6))),
            _ => {
                let inner = format!(
                    "a:2:{{{}{}{}b:1;}}",
                    ser_str("url"),
                    ser_str("https://cdn.wfu.edu/a.png"),
                    ser_str("on")
                );
                body.push_str(&inner);
            }
        }
    }
    format!("a:{n}:{{{body}}}")
}

fn block_content(rng: &mut Rng, site: usize) -> String {
    let mut s = String::new();
    for p in 0..(4 + rng.below(12)) {
        match rng.below(3) {
            0 => s.push_str(&format!(
                "<!-- wp:image {{\"id\":{p},\"url\":\"https:\\/\\/www.wfu.edu\\/site{site}\\/img{p}.jpg\"}} -->\n\
                 <figure><img src=\"https://www.wfu.edu/site{site}/img{p}.jpg\"/></figure>\n<!-- /wp:image -->\n"
            )),
            _ => s.push_str(&format!("<!-- wp:paragraph -->\n<p>{}</p>\n<!-- /wp:paragraph -->\n", words(rng, 40))),
        }
    }
    s
}

/// mysqldump's escaping.
fn sql_escape(v: &str, out: &mut Vec<u8>) {
    for &b in v.as_bytes() {
        match b {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' | b'\'' | b'"' => out.extend_from_slice(&[b'\\', b]),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
}

/// The dump, and the column values in it (for the value API run). With
/// `ddl`, each table's rows follow its `CREATE TABLE` (as in a mysqldump),
/// so stream mode tracks column kinds; without, it replaces in every literal.
fn generate(target: usize, ddl: bool) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut dump = b"-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n".to_vec();
    let mut values = Vec::new();
    let mut site = 1;
    while dump.len() < target {
        for (table, kind) in [("options", 0), ("posts", 1), ("postmeta", 2)] {
            if ddl {
                dump.extend_from_slice(
                    format!(
                        "CREATE TABLE `wp_{site}_{table}` (\n  `id` bigint(20) unsigned NOT NULL,\n  \
                         `name` varchar(191) NOT NULL DEFAULT '',\n  `value` longtext NOT NULL,\n  \
                         `autoload` varchar(20) NOT NULL DEFAULT 'yes',\n  `extra` mediumblob,\n  \
                         PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
                    )
                    .as_bytes(),
                );
            }
            dump.extend_from_slice(format!("INSERT INTO `wp_{site}_{table}` VALUES ").as_bytes());
            for row in 0..50 {
                let value = match kind {
                    0 => serialized_option(&mut rng, site),
                    1 => block_content(&mut rng, site),
                    _ if row % 2 == 0 => serialized_option(&mut rng, site),
                    _ => words(&mut rng, 12),
                };
                if row > 0 {
                    dump.push(b',');
                }
                dump.extend_from_slice(format!("({row},'opt_{row}','").as_bytes());
                sql_escape(&value, &mut dump);
                dump.extend_from_slice(b"','yes',NULL)");
                values.push(value);
            }
            dump.extend_from_slice(b";\n");
        }
        site += 1;
    }
    (dump, values)
}

/// CPU time of this thread: the machine may be shared, and "MB/s on one
/// core" is about the work done, not about waiting for the core.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // Linux supports. On failure `ts` stays zero and the figure reads as 0.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (start, cpu_start) = (Instant::now(), thread_cpu_secs());
    let out = f();
    (
        out,
        start.elapsed().as_secs_f64(),
        thread_cpu_secs() - cpu_start,
    )
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// Output goes through a 1 MB `BufWriter`, as `wfuwp search-replace` writes
/// stdout, into a sink: the copy is measured, the disk is not.
fn bench_stream(name: &str, r: &Replacer, dump: &[u8]) {
    let mut out = io::BufWriter::with_capacity(1 << 20, io::sink());
    let (stats, secs, cpu) =
        timed(|| stream_sql_dump(r, dump, &mut out).expect("writing to a sink cannot fail"));
    println!(
        "stream mode  {name:<10} {:>7.1} MB/s CPU {:>7.1} MB/s wall  ({:.1} MB in {secs:.3} s; {} replacements, {} serialized rewritten)",
        mbps(dump.len(), cpu),
        mbps(dump.len(), secs),
        dump.len() as f64 / 1e6,
        stats.replacements,
        stats.serialized_rewritten
    );
}

fn bench_values(name: &str, r: &Replacer, values: &[String]) {
    let bytes: usize = values.iter().map(String::len).sum();
    let (stats, secs, cpu) = timed(|| {
        let mut stats = ValueStats::default();
        for v in values {
            let got = r.replace_value(v.as_bytes());
            stats += got.stats;
            black_box(got.value);
        }
        stats
    });
    println!(
        "value API    {name:<10} {:>7.1} MB/s CPU {:>7.1} MB/s wall  ({:.1} MB, {} values in {secs:.3} s; {} replacements)",
        mbps(bytes, cpu),
        mbps(bytes, secs),
        bytes as f64 / 1e6,
        values.len(),
        stats.replacements
    );
}

/// The leftover audit (docs/hosts.md) over the values as a migration writes
/// them (replaced), against the replacement itself: its goal is at most
/// 10 % of a migration, whose rows time also reads and writes the rows.
fn bench_audit(r: &Replacer, values: &[String]) {
    let written: Vec<Vec<u8>> = values
        .iter()
        .map(|v| r.replace_value(v.as_bytes()).value.into_owned())
        .collect();
    let sites = 1..=1500;
    let sources: Vec<String> = [
        "www.wfu.edu",
        ".wfu.edu",
        "cdn.wfu.edu",
        "wordpress-prod-us",
    ]
    .into_iter()
    .map(String::from)
    .chain(sites.clone().map(|n| format!("site{n}.wfu.edu")))
    .collect();
    let targets: Vec<String> = [
        "uat.wfu.edu",
        ".uat.wfu.edu",
        "uat.wp.cdn.aws.wfu.edu",
        "wordpress-uat-us",
    ]
    .into_iter()
    .map(String::from)
    .chain(sites.map(|n| format!("site{n}.uat.wfu.edu")))
    .collect();
    let (scanner, build, _) = timed(|| Scanner::new(&sources, &targets));
    let bytes: usize = written.iter().map(Vec::len).sum();
    let (_, _, replace_cpu) = timed(|| {
        for v in values {
            black_box(r.replace_value(v.as_bytes()).value);
        }
    });
    let (hits, secs, cpu) = timed(|| {
        written
            .iter()
            .filter(|v| scanner.first_hit(v).is_some())
            .count()
    });
    println!(
        "audit        {:>7.1} MB/s CPU {:>7.1} MB/s wall  ({} leftovers; {:.1} % of the replacement's CPU; scanner built in {build:.3} s)",
        mbps(bytes, cpu),
        mbps(bytes, secs),
        hits,
        100.0 * cpu / replace_cpu
    );
}

fn pairs(list: &[(&str, &str)]) -> Replacer {
    let owned: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Replacer::new(&owned).expect("valid pairs")
}

fn main() -> io::Result<()> {
    let mb: usize = std::env::var("WFUWP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        // `cargo bench` passes --bench; `cargo test --all-targets` runs this as
        // a smoke test, which needs only to exercise the code, not measure it.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            200
        } else {
            2
        });
    let gen_start = Instant::now();
    let (dump, values) = generate(mb * 1_000_000, false);
    println!(
        "generated {:.1} MB dump, {} values in {:.1} s",
        dump.len() as f64 / 1e6,
        values.len(),
        gen_start.elapsed().as_secs_f64()
    );
    let matching = pairs(&[
        ("www.wfu.edu", "uat.wfu.edu"),
        (".wfu.edu", ".uat.wfu.edu"),
        ("cdn.wfu.edu", "uat.wp.cdn.aws.wfu.edu"),
        ("wordpress-prod-us", "wordpress-uat-us"),
    ]);
    let absent = pairs(&[
        ("www.example.org", "uat.example.org"),
        ("bucket-prod", "bucket-uat"),
    ]);
    for _ in 0..2 {
        bench_stream("matching", &matching, &dump);
        bench_stream("no-match", &absent, &dump);
        bench_values("matching", &matching, &values);
        bench_values("no-match", &absent, &values);
        bench_audit(&matching, &values);
    }
    drop((dump, values));
    let (dump, _) = generate(mb * 1_000_000, true);
    for _ in 0..2 {
        bench_stream("match+ddl", &matching, &dump);
        bench_stream("nomatch+ddl", &absent, &dump);
    }
    Ok(())
}
