//! The engine's refusal of a request it cannot do as given: a setting, a
//! flag or the servers' setup is wrong, nothing was done, and the message
//! says what to change. Typed errors of their own (a configuration error, a
//! rollback refusal) say more; this is for the rest.

/// A request refused before anything was done; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Refusal {
    /// A refusal saying `message`.
    pub fn new(message: impl Into<String>) -> Refusal {
        Refusal(message.into())
    }
}
