//! `wfuwp --version` says which commit it was built from: the build asks
//! git, and says "unknown" where there is none (a source tarball, a copy
//! without `.git`).

use std::path::PathBuf;
use std::process::Command;

/// `git ARGS` in the package's directory, its output trimmed, when it works.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WFUWP_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // Built again when HEAD moves (a commit, a checkout), not on every edit.
    // In a worktree HEAD is in its own git dir, branches in the common one.
    let dirs = ["--git-dir", "--git-common-dir"].map(|d| git(&["rev-parse", d]).map(PathBuf::from));
    let [Some(git_dir), Some(common)] = dirs else {
        return;
    };
    let mut watched = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(branch));
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
