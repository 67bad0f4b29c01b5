//! The hidden `wfuwp seed-network` command (feature `testbed`): a generated
//! network into a configured environment's database.

use anyhow::Context as _;
use wfuwp_engine::config::Environment;
use wfuwp_engine::db::connect;
use wfuwp_engine::media::client::Bucket;
use wfuwp_testbed::{generate, seed, uploads, NetworkSummary};

use super::Context;
use crate::cli::seed::SeedArgs;
use crate::exit::{Code, Failure};

/// Generates a network as asked.
pub fn run(ctx: &Context, args: &SeedArgs) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let env = config.environment(&args.env)?.clone();
    let opts = args.network_options(&env);
    let summary = super::runtime()?.block_on(async {
        seed::prepare_database(&env, args.recreate).await?;
        // The options a connection proved (TLS, or plain where preferred fell back).
        let connected = connect::connect_reporting(&env).await?;
        let _ = connected.conn.disconnect().await;
        generate(connected.opts, &opts)
            .await
            .with_context(|| format!("seeding environment '{}'", env.name))
    })?;
    print_summary(&env, &summary);
    if args.uploads {
        write_uploads(&env, &summary)?;
    }
    Ok(Code::Success)
}

/// `--uploads`: every generated site's files into the environment's bucket.
fn write_uploads(env: &Environment, summary: &NetworkSummary) -> Result<(), Failure> {
    let Some(media) = &env.media else {
        return Err(Failure::Usage(format!(
            "--uploads needs [environments.{}.media] in the config file",
            env.name
        )));
    };
    let sites: Vec<_> = summary.sites.iter().map(|s| s.blog_id).collect();
    let (objects, bytes) = super::runtime()?
        .block_on(async {
            let bucket = Bucket::connect(&env.name, media, 3).await;
            uploads::write(&bucket, &sites).await
        })
        .map_err(|e| Failure::from(anyhow::Error::new(e)))?;
    crate::outln!(
        "wrote {objects} uploads ({:.1} MB) into {}",
        bytes as f64 / 1e6,
        media.location()
    );
    Ok(())
}

fn print_summary(env: &Environment, s: &NetworkSummary) {
    let last = s.sites.last().map_or(1, |x| x.blog_id);
    crate::outln!(
        "seeded {} sites (blog ids 1..{last}) into environment '{}' (database '{}'): {} tables, {} rows, {:.1} MB in {:.1} s",
        s.sites.len(),
        env.name,
        env.database,
        s.row_counts.len(),
        s.rows(),
        s.bytes as f64 / 1e6,
        s.elapsed.as_secs_f64()
    );
    crate::outln!(
        "archived: {:?}  spam: {:?}  deleted: {:?}",
        s.flagged(|x| x.archived),
        s.flagged(|x| x.spam),
        s.flagged(|x| x.deleted)
    );
}
