//! What the user sees: messages, the engine's events and live progress,
//! prompts, tables, the plan, the final report, `config check`.

pub mod check;
pub mod init;
pub mod listing;
pub mod output;
pub mod plan;
pub mod progress;
pub mod prompt;
pub mod report;
pub mod table;
