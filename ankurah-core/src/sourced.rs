//! [`Sourced`]: an answer of a read, with where it came from.
//!
//! On a connected ephemeral node, `get` and `fetch` reflect the durable peer: they send it
//! the heads the node holds and apply the deltas it returns before answering (an entity the
//! node follows is current already, and is answered without asking). With no durable peer
//! reachable they answer from the local store, which may be behind. [`ReadSource`] tells
//! the two apart, for applications that show "offline" or retry later.

/// Where the answer of a read came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadSource {
    /// A durable node answered: this node, if it is durable, or the connected durable
    /// peer (joined with this node's own commits the peer has not acknowledged yet).
    Durable,
    /// No durable peer was reachable: the local store answered, as of the last time it
    /// heard from one.
    Local,
}

/// A read's answer and its [`ReadSource`] (see `Context::get_sourced` and
/// `Context::fetch_sourced`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced<T> {
    /// The answer.
    pub value: T,
    /// Where it came from.
    pub source: ReadSource,
}

impl<T> Sourced<T> {
    /// Whether a durable node answered.
    pub fn is_durable(&self) -> bool {
        self.source == ReadSource::Durable
    }

    /// The answer, without its source.
    pub fn into_inner(self) -> T {
        self.value
    }
}
