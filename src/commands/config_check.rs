//! `wfuwp config check [ENV…]`: the engine checks, this shows and judges.
//!
//! The file itself is validated by loading it (errors exit 2 with the path
//! and line). Any failure makes the exit non-zero: 2 when the cause is
//! configuration (e.g. an unset password variable), 1 otherwise.

use wfuwp_engine::check::{self, Problem};

use super::Context;
use crate::exit::{Code, Failure};
use crate::ui;

/// Checks the named environments (all when none are named).
pub fn run(ctx: &Context, envs: &[String]) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let checked = super::runtime()?.block_on(check::environments(&config, envs))?;
    let (reports, tokens) = (&checked.reports, &checked.token_problems);
    crate::outln!(
        "configuration {}: valid, {} environment(s) to check",
        config.path.display(),
        reports.len()
    );
    if !tokens.is_empty() {
        crate::outln!("replacement tokens:");
        for p in tokens {
            crate::outln!("  PROBLEM: {p}");
        }
    }
    let mut failed = Vec::new();
    let mut config_failure = !tokens.is_empty();
    for r in reports {
        ui::check::report(r, reports);
        if let Err(p) = &r.outcome {
            config_failure |= matches!(p, Problem::Config(_));
        }
        config_failure |= !r.rule_problems.is_empty();
        if r.outcome.is_err() || !r.rule_problems.is_empty() {
            failed.push(r.env.name.clone());
        }
    }
    for (env, outcome) in &checked.media {
        match outcome {
            Ok(what) => crate::outln!("{env}: media {what}"),
            Err(e) => {
                crate::outln!("{env}: media PROBLEM: {e}");
                if !failed.contains(env) {
                    failed.push(env.clone());
                }
            }
        }
    }
    if failed.is_empty() && tokens.is_empty() {
        crate::outln!("all {} environment(s) OK", reports.len());
        return Ok(Code::Success);
    }
    let token_text = format!(
        "{} replacement-token problem(s) in {}",
        tokens.len(),
        config.path.display()
    );
    let summary = match (failed.is_empty(), tokens.is_empty()) {
        (true, _) => format!("config check found {token_text}"),
        (false, true) => format!(
            "config check failed for {} of {} environment(s): {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ),
        (false, false) => format!(
            "config check failed for {} of {} environment(s): {}, and found {token_text}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ),
    };
    let message =
        format!("{summary}. Fix the problems shown above and run `wfuwp config check` again.");
    Err(match config_failure {
        true => Failure::Usage(message),
        false => Failure::Fatal(message),
    })
}
