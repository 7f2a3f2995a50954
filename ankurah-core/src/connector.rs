//! [`LocalConnector`]: joins two nodes in one process, for tests and embedded setups.
//!
//! It runs the same peer protocol as the network connectors, through the same bounded
//! queues; messages are just not serialized. Dropping the connector (or calling
//! [`LocalConnector::disconnect`]) cuts the connection, which is how tests simulate
//! partitions.

use crate::node::Node;
use crate::runtime::TaskSet;
use crate::sync::queue;

/// An in-process connection between two nodes.
#[derive(Debug)]
pub struct LocalConnector {
    /// The two sessions; dropping the set ends both.
    _sessions: TaskSet,
}

impl LocalConnector {
    /// Connects `a` and `b`; the handshake runs in the background (see
    /// [`Node::wait_durable_peer`]). Must be called inside a tokio runtime.
    pub fn new(a: &Node, b: &Node) -> Self {
        let (to_b, from_a) = queue(b.limits());
        let (to_a, from_b) = queue(a.limits());
        let mut sessions = TaskSet::default();
        for (node, outgoing, incoming) in [(a, to_b, from_b), (b, to_a, from_a)] {
            let node = node.clone();
            sessions.spawn(async move {
                // A refused or broken session ends here; the other side sees the close.
                if let Err(error) = node.run_peer(outgoing, incoming).await {
                    tracing::debug!(%error, "local session ended");
                }
            });
        }
        LocalConnector {
            _sessions: sessions,
        }
    }

    /// Cuts the connection.
    pub fn disconnect(self) {}
}
