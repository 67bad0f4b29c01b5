//! Database access: connections, discovery, table copy.

pub mod connect;
pub mod sql;
pub mod discovery;
pub mod copy;
pub mod roles;
