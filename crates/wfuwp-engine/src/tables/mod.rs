//! The tables a migration makes on the target next to the live ones, and
//! what is done with them: the atomic swaps in and back ([`swap`]), and what
//! is left over afterwards ([`leftovers`]). Their names are [`crate::names`].

pub mod leftovers;
pub mod swap;
