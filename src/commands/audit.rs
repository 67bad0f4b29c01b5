//! `wfuwp audit ENV --source SRC`: the engine's read-only leftover scan, its
//! findings shown, exit 0 when clean and 3 when something was found.

use wfuwp_engine::lifecycle;

use super::Context;
use crate::cli::AuditArgs;
use crate::exit::{Code, Failure};
use crate::ui::output;
use crate::ui::progress::Terminal;
use crate::ui::report::{holder, leftover_holders};

/// Runs one audit.
pub fn run(ctx: &Context, args: &AuditArgs) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let report = super::runtime()?.block_on(lifecycle::audit(
        &config,
        &args.env,
        &args.source,
        Terminal::new(),
    ))?;
    let l = &report.leftovers;
    if args.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Fatal(e.to_string()))?
        );
    } else {
        crate::outln!(
            "Audit of {} for {}'s hosts and tokens: {} tables, {} rows scanned",
            report.env,
            report.source_env,
            report.tables,
            report.rows
        );
        for site in &l.by_site {
            crate::outln!("  {}: {} values", holder(site.site_id), site.found.values);
            for (column, n) in &site.found.by_column {
                crate::outln!("    {column}: {n}");
            }
            for e in &site.found.examples {
                crate::outln!(
                    "    e.g. {}.{} [{}], {}: \"{}\"",
                    e.table,
                    e.column,
                    e.key,
                    e.form,
                    e.context
                );
            }
        }
        match l.is_clean() {
            true => output::info(format!("clean: nothing of {} found", report.source_env)),
            false => output::info(format!(
                "{} still mention {} ({} values)",
                leftover_holders(l),
                report.source_env,
                l.values
            )),
        }
    }
    Ok(if l.is_clean() {
        Code::Success
    } else {
        Code::SitesFailed
    })
}
