//! One side of a migration: an environment's database as a run reaches it.

use mysql_async::Opts;

use super::connect;
use crate::config::Environment;

/// One side of the migration.
#[derive(Clone)]
pub struct Endpoint {
    /// Environment name.
    pub env: String,
    /// Connection options (database selected).
    pub opts: Opts,
    /// Database name.
    pub database: String,
}

// The driver's own `Debug` of `Opts` prints the password: never show it.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("env", &self.env)
            .field("database", &self.database)
            .field("user", &self.opts.user())
            .field(
                "address",
                &self.opts.socket().unwrap_or(self.opts.ip_or_hostname()),
            )
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `env`'s database with the options a first connection proved (TLS,
    /// or plain where `preferred` had to fall back).
    pub fn with(env: &Environment, opts: Opts) -> Endpoint {
        Endpoint {
            env: env.name.clone(),
            opts,
            database: env.database.clone(),
        }
    }

    /// Connects to `env` once to prove its options, then lets go.
    pub async fn of(env: &Environment) -> Result<Endpoint, connect::DbError> {
        let c = connect::connect_reporting(env).await?;
        let _ = c.conn.disconnect().await;
        Ok(Endpoint::with(env, c.opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_never_prints_its_password() {
        let opts: Opts = mysql_async::OptsBuilder::default()
            .user(Some("wp"))
            .pass(Some("s3cret-pw"))
            .ip_or_hostname("db.example.edu")
            .into();
        let e = Endpoint {
            env: "uat".into(),
            opts,
            database: "wp_uat".into(),
        };
        let shown = format!("{e:?}");
        assert!(
            shown.contains("db.example.edu") && !shown.contains("s3cret-pw"),
            "{shown}"
        );
    }
}
