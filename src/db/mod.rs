//! Database access: connections, discovery, table copy.
