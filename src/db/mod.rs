//! Database access: connections, discovery, table copy.

pub mod connect;
