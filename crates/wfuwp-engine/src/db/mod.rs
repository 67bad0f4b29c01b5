//! Database access: connections, discovery, table copy, the server-side lock.

pub mod bulk;
pub mod cert;
pub mod connect;
pub mod copy;
pub mod discovery;
pub mod endpoint;
pub mod roles;
pub mod server_lock;
pub mod settings;
pub mod sizes;
pub mod sql;
pub mod tls;
