//! [`LocalConnector`]: joins two nodes in one process, for tests and embedded setups.
//!
//! It runs the same peer protocol as the network connectors, through the same bounded
//! queues; messages are just not serialized. Dropping the connector (or calling
//! [`LocalConnector::disconnect`]) cuts the connection, which is how tests simulate
//! partitions.

use tokio::task::JoinHandle;

use crate::node::Node;
use crate::sync::queue;

/// An in-process connection between two nodes.
#[derive(Debug)]
pub struct LocalConnector {
    sessions: [JoinHandle<()>; 2],
}

impl LocalConnector {
    /// Connects `a` and `b`; the handshake runs in the background (see
    /// [`Node::wait_durable_peer`]). Must be called inside a tokio runtime.
    pub fn new(a: &Node, b: &Node) -> Self {
        let (to_b, from_a) = queue(b.limits());
        let (to_a, from_b) = queue(a.limits());
        let run = |node: &Node, outgoing, incoming| {
            let node = node.clone();
            tokio::spawn(async move {
                // A refused or broken session ends here; the other side sees the close.
                if let Err(error) = node.run_peer(outgoing, incoming).await {
                    tracing::debug!(%error, "local session ended");
                }
            })
        };
        LocalConnector {
            sessions: [run(a, to_b, from_b), run(b, to_a, from_a)],
        }
    }

    /// Cuts the connection.
    pub fn disconnect(self) {}
}

impl Drop for LocalConnector {
    fn drop(&mut self) {
        for session in &self.sessions {
            session.abort();
        }
    }
}
