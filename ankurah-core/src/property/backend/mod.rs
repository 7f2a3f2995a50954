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
