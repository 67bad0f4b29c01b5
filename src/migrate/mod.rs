//! The migration engine: phases, site workers, backups and rollback (SPEC §5–§7).
