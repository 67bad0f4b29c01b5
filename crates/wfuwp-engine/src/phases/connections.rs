//! A worker's pair of connections (source, target), kept across its units
//! of work, replaced when the server closed them, killed on the servers when
//! the run stops.

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::engine::Engine;
use super::errors::SiteError;
use crate::db::roles;

/// A worker's pair of connections, kept across sites and reopened after errors.
#[derive(Default)]
pub struct Connections {
    source: Option<Conn>,
    target: Option<Conn>,
}

impl Connections {
    /// Opens whichever connection is missing, and replaces one the server
    /// closed while it sat idle since its last use (docs/managed.md).
    pub async fn open(&mut self, engine: &Engine) -> Result<(&mut Conn, &mut Conn), SiteError> {
        for (side, slot) in [("source", &mut self.source), ("target", &mut self.target)] {
            if let Some(conn) = slot {
                if !alive(conn).await {
                    engine.session.log(&format!(
                        "the {side} server closed an idle connection (wait_timeout?); opening a new one"
                    ));
                    *slot = None;
                }
            }
        }
        if self.source.is_none() {
            self.source = Some(roles::source(&engine.source.opts).await?);
        }
        if self.target.is_none() {
            self.target = Some(roles::target(&engine.target.opts).await?);
        }
        match (self.source.as_mut(), self.target.as_mut()) {
            (Some(s), Some(t)) => Ok((s, t)),
            _ => Err(SiteError::permanent(
                crate::state::model::ErrorKind::Internal,
                "connections vanished",
            )),
        }
    }

    /// Server-side ids of the open connections (source, target).
    pub fn ids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.source.as_ref().map(Conn::id),
            self.target.as_ref().map(Conn::id),
        )
    }

    /// Kills the open connections on their servers (aborting their queries) and forgets them.
    pub async fn kill(&mut self, engine: &Engine) {
        let (s, t) = self.ids();
        if let Some(id) = s {
            roles::kill(&engine.source.opts, id).await;
        }
        if let Some(id) = t {
            roles::kill(&engine.target.opts, id).await;
        }
        self.forget();
    }

    /// Drops both connections (after an error their protocol state is unknown).
    pub fn forget(&mut self) {
        self.source = None;
        self.target = None;
    }
}

/// Whether `conn` still answers. A server (or proxy) closes connections idle
/// longer than its `wait_timeout`, which managed services often set short;
/// a worker's connections idle between sites, and a dead one would fail the
/// next site's first statement. One round trip per site is cheap insurance;
/// bounded so that a silently dropped connection cannot hang the worker.
async fn alive(conn: &mut Conn) -> bool {
    matches!(
        tokio::time::timeout(PING_TIMEOUT, conn.ping()).await,
        Ok(Ok(()))
    )
}

/// How long a live server takes at most to answer a ping.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
