//! Property backends: per-entity CRDT states whose merge is a join (commutative, associative,
//! idempotent), so replicas that saw the same events hold byte-identical states.
//!
//! Each backend has a name used as the key of its operations in an [`Event`](crate::event::Event)
//! and of its state in a [`State`](crate::state::State).

mod lww;
mod yrs;
mod yrs_update;

pub use lww::LWWBackend;
pub use yrs::YrsBackend;

use crate::error::EventError;

/// The backends an event or state may name. Every name read from an event or a state goes
/// through [`Backend::from_name`], so an unknown one is refused in one place, and each use
/// is an exhaustive `match` that a new backend extends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Last-writer-wins registers ([`LWWBackend`]).
    Lww,
    /// Collaborative text ([`YrsBackend`]).
    Yrs,
    /// The deletion flag: present (with empty content) once the entity is deleted.
    Tombstone,
}

impl Backend {
    /// The backend's key in events and states.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Lww => LWWBackend::NAME,
            Backend::Yrs => YrsBackend::NAME,
            Backend::Tombstone => crate::event::TOMBSTONE,
        }
    }

    /// The backend named `name`, or the error for an event or state naming another.
    pub fn from_name(name: &str) -> Result<Backend, EventError> {
        [Backend::Lww, Backend::Yrs, Backend::Tombstone]
            .into_iter()
            .find(|backend| backend.name() == name)
            .ok_or_else(|| EventError::UnknownBackend(name.to_owned()))
    }
}
