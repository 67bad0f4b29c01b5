//! Media (issue 12): each migrated site's uploads copied between buckets of
//! a real S3-compatible server (moto, `support::s3`). Expectations come from
//! listing and reading the buckets directly, never from wfuwp's own report.

use crate::migration_kit::{assert_killed, started_id};
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::s3::{with_credentials, with_keys, Listing, S3Server};
use support::*;

const SRC_BUCKET: &str = "wordpress-prod-us";
const DST_BUCKET: &str = "wordpress-uat-us";
/// The target's uploads sit under a prefix, the source's at the root: keys
/// are mapped, not copied verbatim.
const DST_PREFIX: &str = "uat/";

/// Where site `id`'s uploads start, after the bucket prefix.
fn site_dir(id: u64) -> String {
    if id == 1 {
        "wp-content/uploads/".into()
    } else {
        format!("wp-content/uploads/sites/{id}/")
    }
}

/// Deterministic content for `key`, `len` bytes.
fn content(key: &str, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(key.bytes().map(u64::from).sum());
    (0..len).map(|_| rng.u8(..)).collect()
}

/// The files the network generator gives every site (small ones with
/// spaces and Unicode in their names, and one of a few MB), by full key.
fn files_of(id: u64) -> Vec<(String, Vec<u8>)> {
    wfuwp_testbed::uploads::files_of(id)
        .into_iter()
        .map(|(rel, bytes)| (format!("{}{rel}", site_dir(id)), bytes))
        .collect()
}

/// A prod network (6 sites), an empty uat database, an S3 server with
/// both buckets: the source holds every site's files plus a site the
/// network does not have (99); the target holds files of its own.
struct Bed {
    src: TestDb,
    dst: TestDb,
    s3: S3Server,
    dir: tempfile::TempDir,
    config: PathBuf,
    logs: PathBuf,
    sites: Vec<u64>,
}

impl Bed {
    fn new(label: &str) -> Bed {
        let src = TestDb::new(&format!("{label}_src"));
        let dst = TestDb::new(&format!("{label}_dst"));
        let summary = seed_network(&src, &small_network());
        let sites: Vec<u64> = summary.sites.iter().map(|s| s.blog_id).collect();
        let s3 = S3Server::start();
        s3.create_bucket(SRC_BUCKET);
        s3.create_bucket(DST_BUCKET);
        for id in sites.iter().copied().chain([99]) {
            for (key, bytes) in files_of(id) {
                s3.put(SRC_BUCKET, &key, &bytes);
            }
        }
        // The target's own objects: one that a migration overwrites (same
        // key, other bytes), one only the target has, another site's.
        let site2 = site_dir(2);
        s3.put(
            DST_BUCKET,
            &format!("{DST_PREFIX}{site2}2024/01/photo one.jpg"),
            b"old",
        );
        s3.put(
            DST_BUCKET,
            &format!("{DST_PREFIX}{site2}uat-only.jpg"),
            b"uat",
        );
        s3.put(
            DST_BUCKET,
            &format!("{DST_PREFIX}{}kept.jpg", site_dir(77)),
            b"77",
        );
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "logs_dir = \"logs\"\n\n{}{}{}{}",
            src.env_toml("prod", PROD_TOKENS),
            s3.media_toml("prod", SRC_BUCKET, ""),
            dst.env_toml("uat", UAT_TOKENS),
            s3.media_toml("uat", DST_BUCKET, DST_PREFIX),
        );
        let config = write_config_text(dir.path(), &text);
        let logs = dir.path().join("logs");
        Bed {
            src,
            dst,
            s3,
            dir,
            config,
            logs,
            sites,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = wfuwp(&self.config, &self.logs);
        with_credentials(&mut c, self.dir.path());
        c.env_remove("WFUWP_FAILPOINT")
            .env_remove("WFUWP_MEDIA_COPY");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// `run` with extra environment variables (copy mode, kill points, …).
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd();
        c.args(args).envs(env.iter().copied());
        support::run(&mut c)
    }

    /// The target's listing without the migrations' backups.
    fn target(&self) -> Listing {
        let mut l = self.raw_target();
        l.retain(|k, _| !k.starts_with(&format!("{DST_PREFIX}wfuwp-backups/")));
        l
    }

    /// Every key of the target bucket.
    fn raw_target(&self) -> Listing {
        self.s3.list(DST_BUCKET, "")
    }

    /// The target listing a migration of `sites` must produce from `before`:
    /// each source object of those sites under the target prefix with the
    /// source's size and ETag, everything else as it was.
    fn expected(&self, before: &Listing, sites: &[u64]) -> Listing {
        let source = self.s3.list(SRC_BUCKET, "");
        let mut want = before.clone();
        for &id in sites {
            for (key, v) in &source {
                let mine = key.starts_with(&site_dir(id))
                    && (id != 1 || !key.starts_with("wp-content/uploads/sites/"));
                if mine {
                    want.insert(format!("{DST_PREFIX}{key}"), v.clone());
                }
            }
        }
        want
    }

    /// Every copied object has the source's bytes.
    fn assert_same_bytes(&self, sites: &[u64]) {
        for &id in sites {
            for (key, bytes) in files_of(id) {
                let got = self.s3.get(DST_BUCKET, &format!("{DST_PREFIX}{key}"));
                assert!(got == bytes, "{key}: target bytes differ from the source's");
            }
        }
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.logs.join(id).join("migration-state.json"))
            .expect("reading the state");
        serde_json::from_str(&text).expect("state is JSON")
    }

    fn migrations(&self) -> Vec<String> {
        std::fs::read_dir(&self.logs)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("env-migrate-"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sum of a media counter over the sites of a state.
fn media_total(state: &serde_json::Value, field: &str) -> u64 {
    state["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| {
            s["media"][field]
                .as_u64()
                .unwrap_or_else(|| panic!("media.{field} of {s}"))
        })
        .sum()
}

fn assert_ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what} failed:\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_full_migration_copies_every_sites_uploads_and_a_rerun_copies_nothing() {
    let bed = Bed::new("media_full");
    let before = bed.target();
    let r = bed.run(&["env-migrate", "prod", "uat", "--force"]);
    assert_ok(&r, "the migration");
    let want = bed.expected(&before, &bed.sites);
    assert_eq!(bed.target(), want, "target listing after the migration");
    bed.assert_same_bytes(&bed.sites);
    // Site 99 is not in the network: its objects were not copied.
    assert!(bed.target().keys().all(|k| !k.contains("/sites/99/")));

    let id = started_id(&format!("{}{}", r.stdout, r.stderr)).expect("migration id");
    let state = bed.state(&id);
    let objects = 3 * bed.sites.len() as u64;
    assert_eq!(media_total(&state, "objects"), objects);
    assert_eq!(media_total(&state, "copied"), objects);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bed.logs.join(&id).join("migration-summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["media"]["copied"], objects, "{summary}");
    assert_eq!(summary["media"]["sitesCompleted"], bed.sites.len() as u64);
    let listed = bed.run(&["env-migrate", "--list-migrations", "--all", "--json"]);
    assert_ok(&listed, "--list-migrations --json");
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON listing");
    assert_eq!(listed[0]["migrationId"], id.as_str());
    assert_eq!(
        listed[0]["media"], summary["media"],
        "listing and summary agree"
    );
    let table = bed.run(&["env-migrate", "--list-migrations", "--all"]);
    assert!(
        table.stdout.contains("MEDIA")
            && table.stdout.contains(&format!("{objects}/{objects} obj")),
        "the table shows media totals:\n{}",
        table.stdout
    );
    assert!(
        r.stderr.contains("media: ") || r.stdout.contains("media: "),
        "final report shows media"
    );
    for s in state["sites"].as_array().unwrap() {
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["media"]["status"], "completed", "{s}");
    }

    // The overwritten object was kept for --rollback, beside the uploads.
    let backups = format!("{DST_PREFIX}wfuwp-backups/{id}/");
    let original = format!(
        "{backups}objects/{DST_PREFIX}{}2024/01/photo one.jpg",
        site_dir(2)
    );
    assert_eq!(bed.s3.get(DST_BUCKET, &original), b"old");

    let again = bed.run(&["env-migrate", "prod", "uat", "--force"]);
    assert_ok(&again, "the rerun");
    let id2 = started_id(&format!("{}{}", again.stdout, again.stderr)).expect("rerun id");
    assert_ne!(id, id2);
    let state2 = bed.state(&id2);
    assert_eq!(media_total(&state2, "copied"), 0, "a rerun copies nothing");
    assert_eq!(media_total(&state2, "skipped"), objects);
    assert_eq!(bed.target(), want, "a rerun changes nothing");
    // The completed rerun superseded the first migration: its media backups are gone.
    assert!(
        bed.raw_target().keys().all(|k| !k.starts_with(&backups)),
        "backups of the superseded migration remain"
    );
}

#[test]
fn include_sites_touches_only_those_prefixes_on_the_streamed_path() {
    let bed = Bed::new("media_incl");
    let before = bed.target();
    let dry = bed.run(&[
        "env-migrate",
        "prod",
        "uat",
        "--dry-run",
        "--include-sites",
        "2,3",
    ]);
    assert_ok(&dry, "the dry run");
    // Site 2's "photo one.jpg" differs in the target: copied, not skipped.
    for site in [2, 3] {
        let line = format!("site {site}: 3 objects; copy 3 (");
        assert!(
            dry.stdout.contains(&line),
            "dry run should show `{line}`:\n{}",
            dry.stdout
        );
    }
    assert!(!dry.stdout.contains("site 1:"), "{}", dry.stdout);
    assert_eq!(bed.target(), before, "a dry run copies nothing");
    assert!(bed.migrations().is_empty(), "a dry run creates no state");
    let check = bed.run(&["config", "check"]);
    assert_ok(&check, "config check");
    assert!(
        check
            .stdout
            .contains("prod: media s3://wordpress-prod-us/: listed, read, may write")
            && check
                .stdout
                .contains("uat: media s3://wordpress-uat-us/uat/: listed, read, may write"),
        "{}",
        check.stdout
    );
    assert_eq!(bed.target(), before, "config check changes nothing");
    assert_eq!(
        bed.s3.uploads_in_progress(DST_BUCKET),
        0,
        "the write probe left an upload"
    );
    let r = bed.run_with(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--include-sites",
            "2,3",
        ],
        &[("WFUWP_MEDIA_COPY", "stream")],
    );
    assert_ok(&r, "the partial migration");
    assert_eq!(bed.target(), bed.expected(&before, &[2, 3]));
    bed.assert_same_bytes(&[2, 3]);
    assert!(
        bed.target()
            .keys()
            .all(|k| !k.contains("wp-content/uploads/2024/")),
        "the main site's uploads were not selected"
    );

    // --media-only: site 4's uploads, and not one table.
    let tables = bed.dst.tables();
    let before = bed.target();
    let r = bed.run(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--media-only",
        "--include-sites",
        "4",
    ]);
    assert_ok(&r, "the media-only migration");
    assert_eq!(bed.target(), bed.expected(&before, &[4]));
    bed.assert_same_bytes(&[4]);
    assert_eq!(
        bed.dst.tables(),
        tables,
        "--media-only changed the target's tables"
    );
}

#[test]
fn a_kill_during_the_media_copy_then_resume_converges_to_the_same_listing() {
    let bed = Bed::new("media_kill");
    let before = bed.target();
    let want = bed.expected(&before, &bed.sites);
    let mut id: Option<String> = None;
    // Killed at a random copied object of the first run and of two resumes
    // (18 objects in all, at most 8 + 5 + 4 copied before the kills), then
    // a last resume runs to the end. The same seed kills at the same points.
    let seed: u64 = std::env::var("WFUWP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261126);
    eprintln!("media kills: seed {seed} (set WFUWP_CRASH_SEED to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let kills = [rng.u32(1..=8), rng.u32(1..=5), rng.u32(1..=4)];
    for (round, nth) in kills.into_iter().enumerate() {
        let args: Vec<String> = match &id {
            None => [
                "env-migrate",
                "prod",
                "uat",
                "--force",
                "--concurrency",
                "1",
            ]
            .map(String::from)
            .to_vec(),
            Some(id) => vec![
                "env-migrate".into(),
                "--resume".into(),
                id.clone(),
                "--force".into(),
            ],
        };
        let r = support::run(
            bed.cmd()
                .args(&args)
                .env("WFUWP_FAILPOINT", format!("media_object_copied:{nth}")),
        );
        assert_killed(&r, &format!("round {round}"));
        id = id.or_else(|| bed.migrations().into_iter().next());
    }
    let id = id.expect("the killed migration's id");
    let partial = bed.target();
    assert_ne!(partial, want, "the kills stopped the copy part-way");
    let r = bed.run(&["env-migrate", "--resume", &id, "--force"]);
    assert_ok(&r, "the last resume");
    assert_eq!(bed.target(), want, "listing after kills and resume");
    bed.assert_same_bytes(&bed.sites);
    let state = bed.state(&id);
    assert_eq!(state["status"], "completed");
}

/// The migration with `config` fails before anything is created or copied,
/// and says `hint`; returns the run.
fn assert_preflight_refuses(bed: &Bed, config: &Path, hint: &str, what: &str) -> Run {
    let mut cmd = wfuwp(config, &bed.logs);
    with_credentials(&mut cmd, bed.dir.path());
    assert_refused(bed, cmd, hint, what)
}

/// `cmd` (a wfuwp command line) fails before anything is created or
/// copied, and says `hint`; returns the run.
fn assert_refused(bed: &Bed, mut cmd: Command, hint: &str, what: &str) -> Run {
    let before = bed.target();
    let r = support::run(cmd.args(["env-migrate", "prod", "uat", "--force"]));
    assert_ne!(
        r.code, 0,
        "{what}: the migration should fail:\n{}",
        r.stdout
    );
    assert!(
        r.stderr.contains(hint) && r.stderr.contains("nothing was copied"),
        "{what}: stderr should say '{hint}':\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(support::s3::SECRET_KEY),
        "{what}: secret in stderr"
    );
    assert_eq!(bed.target(), before, "{what}: the target bucket changed");
    assert!(
        bed.migrations().is_empty(),
        "{what}: a migration state was created"
    );
    r
}

#[test]
fn bad_media_settings_are_clear_preflight_errors_and_copy_nothing() {
    let bed = Bed::new("media_bad");
    let base = std::fs::read_to_string(&bed.config).unwrap();
    let variant = |name: &str, text: String| {
        let dir = bed.dir.path().join(name);
        write_config_text(&dir, &text)
    };
    let missing = variant(
        "missing",
        base.replace(
            &format!("bucket = \"{DST_BUCKET}\""),
            "bucket = \"no-such-bucket\"",
        ),
    );
    let r = assert_preflight_refuses(&bed, &missing, "does not exist", "a missing bucket");
    // A mistake in the settings (exit 2), said in one line that names the
    // bucket and what to check, not the SDK's dump of the response.
    assert_eq!(r.code, 2, "a missing bucket:\n{}", r.stderr);
    let said: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("warning:"))
        .collect();
    assert_eq!(said.len(), 1, "more than one line:\n{}", r.stderr);
    assert!(
        said[0].contains("'no-such-bucket'") && said[0].contains("[environments.uat.media]"),
        "{}",
        said[0]
    );
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let wrong_endpoint = variant("endpoint", base.replacen(bed.s3.endpoint(), &closed, 2));
    assert_preflight_refuses(
        &bed,
        &wrong_endpoint,
        "is right and the server is up",
        "a wrong endpoint",
    );
    let no_profile = variant(
        "profile",
        base.replace(
            &format!("bucket = \"{DST_BUCKET}\""),
            &format!("bucket = \"{DST_BUCKET}\"\nprofile = \"no-such-profile\""),
        ),
    );
    assert_preflight_refuses(&bed, &no_profile, "credentials", "an unknown profile");
    let check = support::run(
        with_credentials(&mut wfuwp(&missing, &bed.logs), bed.dir.path()).args(["config", "check"]),
    );
    assert_ne!(
        check.code, 0,
        "config check of a missing bucket:\n{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("uat: media PROBLEM") && check.stdout.contains("does not exist"),
        "{}",
        check.stdout
    );
    let _ = &bed.src;
}

fn new_id(bed: &Bed, known: &[String]) -> String {
    bed.migrations()
        .into_iter()
        .find(|m| !known.contains(m))
        .expect("a new migration")
}

#[test]
fn rollback_lists_the_bucket_as_before_after_a_clean_run_and_after_kills() {
    let bed = Bed::new("media_rb");
    let pristine = bed.raw_target();

    // A clean run that overwrites one object, creates many and (with
    // --media-delete) deletes the target-only one of site 2.
    let r = bed.run(&["env-migrate", "prod", "uat", "--force", "--media-delete"]);
    assert_ok(&r, "the migration");
    let site2_only = format!("{DST_PREFIX}{}uat-only.jpg", site_dir(2));
    assert!(
        !bed.target().contains_key(&site2_only),
        "--media-delete deleted it"
    );
    let first = bed.migrations();
    let rb = bed.run(&["env-migrate", "--rollback", &first[0], "--force"]);
    assert_ok(&rb, "the rollback");
    assert_eq!(
        bed.raw_target(),
        pristine,
        "listing after rollback of a clean run"
    );
    assert_eq!(bed.s3.get(DST_BUCKET, &site2_only), b"uat");

    // Killed twice during the media copy, resumed, then rolled back.
    let r = bed.run_with(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--concurrency",
            "1",
        ],
        &[("WFUWP_FAILPOINT", "media_object_copied:5")],
    );
    assert_killed(&r, "first run");
    let id = new_id(&bed, &first);
    let r = bed.run_with(
        &["env-migrate", "--resume", &id, "--force"],
        &[("WFUWP_FAILPOINT", "media_object_copied:3")],
    );
    assert_killed(&r, "first resume");
    assert_ok(
        &bed.run(&["env-migrate", "--resume", &id, "--force"]),
        "the last resume",
    );
    assert_eq!(bed.target(), bed.expected(&pristine, &bed.sites));
    let rb = bed.run(&["env-migrate", "--rollback", &id, "--force"]);
    assert_ok(&rb, "the rollback after kills");
    assert_eq!(
        bed.raw_target(),
        pristine,
        "listing after kills, resume and rollback"
    );
}

/// A policy document allowing `actions` on `buckets` and their objects.
fn policy(statements: &[(&[&str], &str)]) -> String {
    let st: Vec<serde_json::Value> = statements
        .iter()
        .map(|(actions, bucket)| {
            serde_json::json!({
                "Effect": "Allow",
                "Action": actions,
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            })
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": st }).to_string()
}

#[test]
fn a_target_that_refuses_writes_is_a_preflight_error_and_config_check_says_so() {
    let bed = Bed::new("media_ro");
    let (key, secret) = bed.s3.create_user(
        "reader",
        &policy(&[
            (&["s3:*"], SRC_BUCKET),
            (&["s3:GetObject", "s3:ListBucket"], DST_BUCKET),
        ]),
    );
    bed.s3.enforce_permissions(true);
    let as_reader = || {
        let mut c = wfuwp(&bed.config, &bed.logs);
        with_keys(&mut c, bed.dir.path(), &key, &secret);
        c
    };
    let check = support::run(as_reader().args(["config", "check"]));
    let refused = "may list and read this bucket but not write it";
    let lines = format!("{}{}", check.stdout, check.stderr);
    bed.s3.enforce_permissions(false);
    assert!(
        lines.contains("prod: media s3://wordpress-prod-us/: listed, read, may write")
            && lines.contains("uat: media s3://wordpress-uat-us/uat/: listed, read; may NOT write")
            && lines.contains(refused),
        "config check should tell a read-only bucket apart:\n{lines}"
    );
    assert_eq!(bed.s3.uploads_in_progress(DST_BUCKET), 0);
    bed.s3.enforce_permissions(true);
    // Listing the target for the comparison needs permissions off.
    let before = {
        bed.s3.enforce_permissions(false);
        let b = bed.target();
        bed.s3.enforce_permissions(true);
        b
    };
    let r = support::run(as_reader().args(["env-migrate", "prod", "uat", "--force"]));
    // Keys the server does not know at all.
    let mut stranger = wfuwp(&bed.config, &bed.logs);
    with_keys(
        &mut stranger,
        bed.dir.path(),
        "AKIAWFUWPUNKNOWN0000",
        "not-a-secret",
    );
    let unknown = support::run(stranger.args(["env-migrate", "prod", "uat", "--force"]));
    bed.s3.enforce_permissions(false);
    assert_ne!(unknown.code, 0, "unknown keys: {}", unknown.stdout);
    assert!(
        unknown.stderr.contains("the credentials were refused")
            && unknown.stderr.contains("nothing was copied"),
        "unknown keys should be refused in preflight:\n{}",
        unknown.stderr
    );
    assert_ne!(r.code, 0, "the migration should fail:\n{}", r.stdout);
    assert!(
        r.stderr.contains(refused) && r.stderr.contains("nothing was copied"),
        "stderr should say what permission is missing:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&secret), "secret in stderr");
    assert_eq!(bed.target(), before, "the target bucket changed");
    assert!(bed.migrations().is_empty(), "a migration state was created");
    assert!(bed.dst.tables().is_empty(), "tables were written");
}

/// 11 MiB and a bit: three parts of 5 MiB (S3's smallest) when the part
/// size is lowered.
const BIG: usize = 11 * 1024 * 1024 + 5;
const PART: usize = 5 * 1024 * 1024;

/// Per-site `media.copied` of a state.
fn copied_of(state: &serde_json::Value, site: u64) -> u64 {
    state["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["siteId"] == site)
        .and_then(|s| s["media"]["copied"].as_u64())
        .unwrap_or_else(|| panic!("media.copied of site {site} in {state}"))
}

#[test]
fn objects_over_the_part_limit_copy_in_parts_and_reruns_copy_nothing() {
    let bed = Bed::new("media_parts");
    let (a, b) = (bed.sites[1], bed.sites[2]);
    for id in [a, b] {
        let video = format!("{}2025/big/lecture.mp4", site_dir(id));
        bed.s3.put(SRC_BUCKET, &video, &content(&video, BIG));
        // Uploaded in parts, as the AWS CLI does: its ETag is no MD5, so a
        // copy's ETag differs from it.
        let parts = format!("{}2025/big/archive.zip", site_dir(id));
        bed.s3
            .put_in_parts(SRC_BUCKET, &parts, &content(&parts, BIG), PART);
        assert!(bed.s3.list(SRC_BUCKET, &parts)[&parts].1.contains('-'));
    }
    let migrate = |site: u64, env: &[(&str, &str)]| {
        let site_arg = site.to_string();
        let r = bed.run_with(
            &[
                "env-migrate",
                "prod",
                "uat",
                "--force",
                "--include-sites",
                &site_arg,
            ],
            env,
        );
        assert_ok(&r, &format!("migrating site {site} with {env:?}"));
        let id = started_id(&format!("{}{}", r.stdout, r.stderr)).expect("migration id");
        (copied_of(&bed.state(&id), site), id)
    };
    let part_size = PART.to_string();
    let in_parts = ("WFUWP_MEDIA_PART_SIZE", part_size.as_str());
    let streamed = ("WFUWP_MEDIA_COPY", "stream");

    // The target already has site a's video, other bytes of the same size
    // uploaded in 6 MiB parts: overwritten, so backed up first. Backup and
    // restore copy it in its own parts, so it comes back with its ETag.
    let video_a = format!("{DST_PREFIX}{}2025/big/lecture.mp4", site_dir(a));
    let old = content("an older lecture", BIG);
    bed.s3
        .put_in_parts(DST_BUCKET, &video_a, &old, PART + 1024 * 1024);
    assert!(bed.target()[&video_a].1.ends_with("-2\""));
    let before = bed.raw_target();

    // Site a: server-side, every big object in parts (UploadPartCopy).
    let (copied, first) = migrate(a, &[in_parts]);
    assert_eq!(copied, 5);
    let backup = format!("{DST_PREFIX}wfuwp-backups/{first}/objects/{video_a}");
    assert!(
        bed.s3.get(DST_BUCKET, &backup) == old,
        "the backup holds the old bytes"
    );
    // Rolled back (the restore in parts too), the bucket lists as before.
    let rb = bed.run_with(
        &["env-migrate", "--rollback", &first, "--force"],
        &[in_parts],
    );
    assert_ok(&rb, "the rollback");
    assert_eq!(bed.raw_target(), before, "listing after the rollback");
    assert!(bed.s3.get(DST_BUCKET, &video_a) == old);
    assert_eq!(migrate(a, &[in_parts]).0, 5);
    // Site b: streamed, in one PUT each (the part-uploaded source too).
    assert_eq!(migrate(b, &[streamed]).0, 5);
    for id in [a, b] {
        for name in ["lecture.mp4", "archive.zip"] {
            let src = format!("{}2025/big/{name}", site_dir(id));
            let dst = format!("{DST_PREFIX}{src}");
            assert!(
                bed.s3.get(DST_BUCKET, &dst) == bed.s3.get(SRC_BUCKET, &src),
                "{dst}: bytes differ from the source's"
            );
            let (ctype, _) = bed.s3.head(DST_BUCKET, &dst);
            let (want, _) = bed.s3.head(SRC_BUCKET, &src);
            assert_eq!(ctype, want, "{dst}: content type");
        }
    }
    assert!(
        bed.target()[&video_a].1.ends_with("-3\""),
        "site {a}'s video was copied in three parts: {:?}",
        bed.target()[&video_a]
    );
    // Reruns the other way round copy nothing: the copies' ETags are not
    // the sources', their metadata says whose copy they are.
    assert_eq!(migrate(a, &[streamed]).0, 0, "rerun of site {a}");
    assert_eq!(migrate(a, &[]).0, 0, "server-side rerun of site {a}");
    assert_eq!(
        migrate(b, &[in_parts, streamed]).0,
        0,
        "rerun of site {b} in parts"
    );
    assert_eq!(migrate(b, &[]).0, 0, "server-side rerun of site {b}");
    // A changed source is copied again, even at the same size.
    let video_b = format!("{}2025/big/lecture.mp4", site_dir(b));
    let mut other = content(&video_b, BIG);
    other[0] ^= 0xff;
    bed.s3.put(SRC_BUCKET, &video_b, &other);
    assert_eq!(migrate(b, &[in_parts]).0, 1, "a changed object is copied");
    assert!(bed.s3.get(DST_BUCKET, &format!("{DST_PREFIX}{video_b}")) == other);
    assert_eq!(bed.s3.uploads_in_progress(DST_BUCKET), 0);
}

#[test]
fn a_killed_media_rollback_run_again_lists_the_bucket_as_before() {
    let bed = Bed::new("media_rbkill");
    let pristine = bed.raw_target();
    let r = bed.run(&["env-migrate", "prod", "uat", "--force", "--media-delete"]);
    assert_ok(&r, "the migration");
    let id = started_id(&format!("{}{}", r.stdout, r.stderr)).expect("migration id");
    for nth in [2, 4] {
        let point = format!("media_object_restored:{nth}");
        let rb = bed.run_with(
            &["env-migrate", "--rollback", &id, "--force"],
            &[("WFUWP_FAILPOINT", &point)],
        );
        assert_killed(&rb, &format!("rollback killed at restored object {nth}"));
        assert_ne!(
            bed.raw_target(),
            pristine,
            "the kill stopped the restore part-way"
        );
    }
    let rb = bed.run(&["env-migrate", "--rollback", &id, "--force"]);
    assert_ok(&rb, "the rollback run again");
    assert_eq!(
        bed.raw_target(),
        pristine,
        "listing after a killed rollback and its rerun"
    );
    assert_eq!(bed.state(&id)["status"], "rolled_back");
}

#[test]
fn the_generator_writes_each_sites_uploads_into_the_media_bucket() {
    let db = TestDb::new("media_gen");
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "logs_dir = \"logs\"\n\n{}{}",
        db.env_toml("gen", PROD_TOKENS),
        s3.media_toml("gen", "generated-uploads", "g/"),
    );
    let config = write_config_text(dir.path(), &text);
    let mut cmd = wfuwp(&config, &dir.path().join("logs"));
    with_credentials(&mut cmd, dir.path());
    let r = support::run(cmd.args(["seed-network", "--env", "gen", "--sites", "3", "--uploads"]));
    assert_ok(&r, "seed-network --uploads");
    let sites: Vec<u64> = db.query("SELECT blog_id FROM wp_blogs ORDER BY blog_id");
    let listing = s3.list("generated-uploads", "");
    let mut want = Vec::new();
    for &id in &sites {
        for (key, bytes) in files_of(id) {
            let key = format!("g/{key}");
            assert!(s3.get("generated-uploads", &key) == bytes, "{key}: bytes");
            want.push(key);
        }
    }
    want.sort();
    assert_eq!(listing.keys().cloned().collect::<Vec<_>>(), want);
    assert!(want.iter().any(|k| k.contains("café naïve ü.png")));
    assert!(listing.values().any(|(size, _)| *size > 3 * 1024 * 1024));
}

/// The target's media as another environment whose database differs:
/// `[environments.dev]` on `db` with uat's bucket and prefix.
fn dev_config(bed: &Bed, db: &TestDb) -> PathBuf {
    let base = std::fs::read_to_string(&bed.config).expect("reading the config");
    let dev_tokens: &[(&str, &str)] = &[
        ("main", "dev.wfu.edu"),
        ("subdomains", ".dev.wfu.edu"),
        ("cdn", "dev.wp.cdn.aws.wfu.edu"),
        ("bucket", "wordpress-dev-us"),
    ];
    let text = format!(
        "{base}{}{}",
        db.env_toml("dev", dev_tokens),
        bed.s3.media_toml("dev", DST_BUCKET, DST_PREFIX)
    );
    write_config_text(&bed.dir.path().join("with-dev"), &text)
}

/// uat and dev keep their uploads in one bucket and prefix (their databases
/// differ). A migration into dev completes, and its cleanup leaves the
/// media backups of a migration into uat alone, so uat's rollback restores
/// its objects; a migration between uat and dev themselves is refused; and
/// a rollback whose recorded backups are gone says so instead of success.
#[test]
fn cleanup_keeps_another_targets_media_backups_and_rollback_never_pretends() {
    let bed = Bed::new("media_shared");
    let dev = TestDb::new("media_shared_dev");
    let config = dev_config(&bed, &dev);
    let run = |args: &[&str]| {
        let mut c = wfuwp(&config, &bed.logs);
        with_credentials(&mut c, bed.dir.path());
        c.env_remove("WFUWP_FAILPOINT")
            .env_remove("WFUWP_MEDIA_COPY");
        support::run(c.args(args))
    };
    let photo = format!("{DST_PREFIX}{}2024/01/photo one.jpg", site_dir(2));
    let r = run(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2",
    ]);
    assert_ok(&r, "M1: prod → uat, site 2");
    let m1 = started_id(&format!("{}{}", r.stdout, r.stderr)).expect("M1's id");
    assert_ne!(
        bed.s3.get(DST_BUCKET, &photo),
        b"old",
        "M1 overwrote nothing"
    );

    let r = run(&["env-migrate", "prod", "dev", "--force"]);
    assert_ok(&r, "M2: prod → dev");
    let original = format!("{DST_PREFIX}wfuwp-backups/{m1}/objects/{photo}");
    assert_eq!(
        bed.s3.get(DST_BUCKET, &original),
        b"old",
        "M2's cleanup deleted the backups of M1, a migration into another database"
    );
    let r = run(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_ok(&r, "rollback of M1");
    assert_eq!(
        bed.s3.get(DST_BUCKET, &photo),
        b"old",
        "M1's object is restored"
    );

    // dev and uat as source and target of one migration: refused, like one
    // database under two names.
    let known = bed.migrations();
    let listing = bed.raw_target();
    let r = run(&["env-migrate", "dev", "uat", "--force"]);
    assert_eq!(
        r.code, 2,
        "dev → uat shares one bucket:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stderr.contains("same place"), "{}", r.stderr);
    assert_eq!(bed.migrations(), known, "a refused migration created state");
    assert_eq!(
        bed.raw_target(),
        listing,
        "a refused migration changed the bucket"
    );

    // M3 overwrites the object again; its backup is then deleted by hand.
    let r = run(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2",
    ]);
    assert_ok(&r, "M3: prod → uat, site 2");
    let m3 = started_id(&format!("{}{}", r.stdout, r.stderr)).expect("M3's id");
    let kept = format!("{DST_PREFIX}wfuwp-backups/{m3}/objects/{photo}");
    assert_eq!(bed.s3.get(DST_BUCKET, &kept), b"old");
    block_on(
        bed.s3
            .client()
            .delete_object()
            .bucket(DST_BUCKET)
            .key(&kept)
            .send(),
    )
    .expect("deleting the backup");
    let listing = bed.raw_target();
    let tables = table_checksums(&bed.dst);
    let r = run(&["env-migrate", "--rollback", &m3, "--force"]);
    assert_eq!(
        r.code, 2,
        "rollback without its backups:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains("site 2: 1 of 1") && r.stderr.contains("missing"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Rolled back") && !r.stderr.contains("Rolled back"));
    assert_eq!(
        bed.raw_target(),
        listing,
        "the refused rollback changed the bucket"
    );
    assert_eq!(
        table_checksums(&bed.dst),
        tables,
        "the refused rollback changed tables"
    );
}

/// A media step that fails part-way records the objects it did copy (and
/// the original it kept), not 0.
#[test]
fn a_media_attempt_that_fails_records_what_it_copied() {
    let bed = Bed::new("media_partial_fail");
    // Everything allowed but reading site 2's 2025 uploads: its third object
    // (in key order) cannot be read, after the first two were copied.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [
                    format!("arn:aws:s3:::{SRC_BUCKET}"), format!("arn:aws:s3:::{SRC_BUCKET}/*"),
                    format!("arn:aws:s3:::{DST_BUCKET}"), format!("arn:aws:s3:::{DST_BUCKET}/*"),
                ],
            },
            {
                "Effect": "Deny",
                "Action": ["s3:GetObject"],
                "Resource": [format!("arn:aws:s3:::{SRC_BUCKET}/{}2025/*", site_dir(2))],
            },
        ],
    })
    .to_string();
    let (key, secret) = bed.s3.create_user("partial", &policy);
    bed.s3.enforce_permissions(true);
    let mut c = wfuwp(&bed.config, &bed.logs);
    with_keys(&mut c, bed.dir.path(), &key, &secret);
    let r = support::run(
        c.env("WFUWP_MEDIA_COPY", "stream")
            .env_remove("WFUWP_FAILPOINT")
            .args([
                "env-migrate",
                "prod",
                "uat",
                "--force",
                "--include-sites",
                "2",
                "--media-concurrency",
                "1",
            ]),
    );
    bed.s3.enforce_permissions(false);
    assert_eq!(r.code, 3, "site 2 should fail:\n{}\n{}", r.stdout, r.stderr);
    let id = bed.migrations().pop().expect("the migration");
    let state = bed.state(&id);
    let site = state["sites"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["siteId"] == 2))
        .expect("site 2");
    assert_eq!(site["status"], "failed", "{site}");
    let files = files_of(2);
    let (copied, bytes) = (2, (files[0].1.len() + files[1].1.len()) as u64);
    assert_eq!(site["media"]["status"], "failed", "{site}");
    assert_eq!(site["media"]["copied"], copied, "{site}");
    assert_eq!(site["media"]["bytesCopied"], bytes, "{site}");
    assert_eq!(site["media"]["backedUp"], 1, "{site}");
    // The bucket agrees: the first two objects are the source's.
    for (k, b) in &files[..2] {
        assert!(
            bed.s3.get(DST_BUCKET, &format!("{DST_PREFIX}{k}")) == *b,
            "{k}"
        );
    }
}
