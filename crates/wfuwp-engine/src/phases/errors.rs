//! Failure classification (docs/phases.md): every failure gets an `errorKind`, and
//! transient ones (connection, deadlock, lock wait timeout) are retried
//! ([`super::retry`], with the backoff of [`crate::retry`]).

use crate::db::copy::CopyError;
use crate::state::model::ErrorKind;

/// A failure while migrating one site (or the network tables).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SiteError {
    /// Classification recorded in the state.
    pub kind: ErrorKind,
    /// Whether trying again may succeed.
    pub transient: bool,
    /// What happened (never contains a password: built from server messages).
    pub message: String,
}

impl SiteError {
    /// The same failure, saying which table it happened in (unless it says so already).
    pub fn in_table(mut self, table: &str) -> Self {
        if !self.message.starts_with("table ") {
            self.message = format!("table {table}: {}", self.message);
        }
        self
    }

    /// A failure of `kind` that retrying will not fix.
    pub fn permanent(kind: ErrorKind, message: impl Into<String>) -> Self {
        SiteError {
            kind,
            transient: false,
            message: message.into(),
        }
    }
}

impl From<crate::db::server_lock::LockLost> for SiteError {
    fn from(e: crate::db::server_lock::LockLost) -> Self {
        // The run is being stopped: the site is not failed, it stays to redo.
        SiteError::permanent(ErrorKind::Connection, e.to_string())
    }
}

// Server error codes (MySQL and MariaDB share these).
const ER_CON_COUNT: u16 = 1040;
const ER_SERVER_SHUTDOWN: u16 = 1053;
const ER_NET_READ_ERROR: u16 = 1158;
const ER_NET_READ_INTERRUPTED: u16 = 1159;
const ER_NET_ERROR_ON_WRITE: u16 = 1160;
const ER_NET_WRITE_INTERRUPTED: u16 = 1161;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_QUERY_INTERRUPTED: u16 = 1317;
const ER_CONNECTION_KILLED: u16 = 1927;
const ER_STATEMENT_TIMEOUT: u16 = 1969;
const ER_MYSQL_STATEMENT_TIMEOUT: u16 = 3024;
const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
const ER_REQUIRES_PRIMARY_KEY: u16 = 1173;
const ER_WARN_ALLOWED_PACKET_OVERFLOWED: u16 = 1301;
const ER_TABLE_WITHOUT_PK: u16 = 3750;
const ER_CLIENT_INTERACTION_TIMEOUT: u16 = 4031;

impl From<mysql_async::Error> for SiteError {
    fn from(e: mysql_async::Error) -> Self {
        let mut message = e.to_string();
        let (kind, transient) = match &e {
            // The server closes the connection after refusing an oversized
            // packet, but the fault is the data's: retrying sends the same
            // packet, and the server is not gone (docs/managed.md).
            mysql_async::Error::Server(s)
                if matches!(
                    s.code,
                    ER_NET_PACKET_TOO_LARGE | ER_WARN_ALLOWED_PACKET_OVERFLOWED
                ) =>
            {
                message.push_str(
                    ": a statement or value is larger than the target's max_allowed_packet; \
                     raise it on the target or shrink the value in the source, then resume",
                );
                (ErrorKind::Data, false)
            }
            // The client refuses a packet above the max_allowed_packet it
            // read from the server at connect: an I/O error by type, but
            // nothing is wrong with the connection or the server.
            e if packet_too_large(e) => {
                // The driver's text repeats "Input/output error" and names nothing.
                message = "the MySQL client refused a packet larger than the server's max_allowed_packet \
                           (a row or statement too large for one packet); raise max_allowed_packet on \
                           the server or shrink the value in the source, then resume"
                    .to_string();
                (ErrorKind::Data, false)
            }
            mysql_async::Error::Server(s)
                if matches!(s.code, ER_REQUIRES_PRIMARY_KEY | ER_TABLE_WITHOUT_PK) =>
            {
                message.push_str(
                    ": the target requires primary keys (innodb_force_primary_key or sql_require_primary_key); \
                     add one to the table in the source or turn the setting off, then resume",
                );
                (ErrorKind::Data, false)
            }
            mysql_async::Error::Server(s) => match s.code {
                ER_LOCK_WAIT_TIMEOUT => (ErrorKind::Timeout, true),
                ER_LOCK_DEADLOCK => (ErrorKind::Sql, true),
                ER_NET_READ_INTERRUPTED
                | ER_NET_WRITE_INTERRUPTED
                | ER_STATEMENT_TIMEOUT
                | ER_MYSQL_STATEMENT_TIMEOUT => (ErrorKind::Timeout, false),
                ER_CON_COUNT
                | ER_SERVER_SHUTDOWN
                | ER_NET_READ_ERROR
                | ER_NET_ERROR_ON_WRITE
                | ER_CONNECTION_KILLED
                | ER_QUERY_INTERRUPTED
                | ER_CLIENT_INTERACTION_TIMEOUT => (ErrorKind::Connection, true),
                _ => (ErrorKind::Sql, false),
            },
            mysql_async::Error::Io(_) => (ErrorKind::Connection, true),
            mysql_async::Error::Driver(
                mysql_async::DriverError::ConnectionClosed
                | mysql_async::DriverError::PoolDisconnected,
            ) => (ErrorKind::Connection, true),
            _ => (ErrorKind::Internal, false),
        };
        SiteError {
            kind,
            transient,
            message,
        }
    }
}

/// Whether `e` is the driver's refusal of a packet larger than
/// `max_allowed_packet` (either direction).
fn packet_too_large(e: &mysql_async::Error) -> bool {
    use mysql_common::proto::codec::error::PacketCodecError;
    #[allow(unreachable_patterns)] // TLS variants exist only with TLS features.
    match e {
        mysql_async::Error::Driver(mysql_async::DriverError::PacketTooLarge) => true,
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PacketCodecError>())
            .is_some_and(|c| matches!(c, PacketCodecError::PacketTooLarge)),
        _ => false,
    }
}

impl From<CopyError> for SiteError {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Db(db) => db.into(),
            other @ (CopyError::RowCount { .. } | CopyError::RowTooLarge { .. }) => {
                SiteError::permanent(ErrorKind::Data, other.to_string())
            }
        }
    }
}

impl From<crate::db::connect::DbError> for SiteError {
    fn from(e: crate::db::connect::DbError) -> Self {
        let transient = matches!(e, crate::db::connect::DbError::Unreachable { .. });
        SiteError {
            kind: ErrorKind::Connection,
            transient,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "m".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn classification() {
        let e: SiteError = server(1205).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Timeout, true));
        let e: SiteError = server(1213).into();
        assert!(e.transient);
        let e: SiteError = server(1146).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Sql, false));
        let e: SiteError = server(1153).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Data, false));
        let e: SiteError = server(1173).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Data, false));
        let codec = mysql_common::proto::codec::error::PacketCodecError::PacketTooLarge;
        let e: SiteError = mysql_async::Error::Io(std::io::Error::other(codec).into()).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Data, false));
        assert!(!e.message.contains("Input/output"), "{}", e.message);
        let e = e.in_table("wp_2_postmeta").in_table("other");
        assert!(e
            .message
            .starts_with("table wp_2_postmeta: the MySQL client refused a packet"));
        let e: SiteError = server(4031).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Connection, true));
        let e: SiteError = mysql_async::Error::Io(std::io::Error::other("x").into()).into();
        assert_eq!((e.kind, e.transient), (ErrorKind::Connection, true));
    }
}
