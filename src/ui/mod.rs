//! What the user sees: messages, progress, prompts, tables.

pub mod init;
pub mod output;
pub mod plan;
pub mod progress;
pub mod prompt;
pub mod report;
pub mod table;
