//! The engine-independent half of a storage engine on an ordered key-value store (sled, redb):
//! how values are encoded into order-preserving index keys ([`value_key`]), what is stored per
//! entity and per index entry ([`record`]), which index a query uses ([`planner`]), and how a
//! plan runs ([`query`]). An engine supplies keys, transactions and durability, and reads its
//! states and indexes to the query functions through [`query::IndexedStates`].
//!
//! Everything here is part of the on-disk format of those engines: changing an encoding means
//! bumping their format versions.

pub mod planner;
pub mod query;
pub mod record;
pub mod value_key;
