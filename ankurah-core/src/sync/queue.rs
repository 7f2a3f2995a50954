//! [`queue`]: the bounded channel between a node and a connector, in each direction.
//!
//! A queue holds at most [`Limits::max_queued_messages`] messages and about
//! [`Limits::max_queued_bytes`] bytes (by [`Message::estimated_len`]). A sender waits for
//! room, so a peer that stops reading slows down what is sent to it instead of making its
//! node buffer without bound; the connector drops a peer that stays that way (see its
//! silence limit). A message larger than the byte budget is let through alone.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::limits::Limits;
use crate::runtime::{self, Instant};
use crate::sync::proto::Message;

/// A bounded queue of messages: the sending half and the receiving half.
pub fn queue(limits: &Limits) -> (QueueSender, QueueReceiver) {
    let (sender, receiver) = mpsc::channel(limits.max_queued_messages.max(1));
    let budget = limits.max_queued_bytes.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let taken = Arc::new(Taken::default());
    let sender = QueueSender {
        sender,
        bytes: Arc::new(Semaphore::new(budget as usize)),
        budget,
        taken: taken.clone(),
    };
    (sender, QueueReceiver { receiver, taken })
}

/// When the receiving side last took a message, as time since the queue was made.
#[derive(Debug)]
struct Taken {
    epoch: Instant,
    at_ms: AtomicU64,
}

impl Default for Taken {
    fn default() -> Self {
        Taken {
            epoch: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }
}

impl Taken {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn record(&self) {
        self.at_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.at_ms.load(Ordering::Relaxed)),
        )
    }
}

/// A message in a queue, holding its share of the byte budget until it is received.
struct Queued {
    message: Message,
    _bytes: OwnedSemaphorePermit,
}

/// Sends into a [`queue`]. Cheap to clone; the queue closes when every sender is dropped.
#[derive(Clone, Debug)]
pub struct QueueSender {
    sender: mpsc::Sender<Queued>,
    bytes: Arc<Semaphore>,
    budget: u32,
    taken: Arc<Taken>,
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The receiving side is gone.
    #[error("the queue is closed")]
    Closed,
    /// The queue is full (only from [`QueueSender::try_send`]).
    #[error("the queue is full")]
    Full,
    /// The receiving side took nothing for the stall limit while this message waited
    /// (only from [`QueueSender::send_unless_stalled`]).
    #[error("nothing was taken from the queue for {0:?}")]
    Stalled(Duration),
}

impl QueueSender {
    fn charge(&self, bytes: usize) -> u32 {
        bytes.clamp(1, self.budget as usize) as u32
    }

    /// Queues `message`, waiting for room.
    pub async fn send(&self, message: Message) -> Result<(), QueueError> {
        let len = message.estimated_len();
        self.send_sized(message, len).await
    }

    /// Queues `message`, counting it as `len` bytes: a connector that decoded it from a
    /// frame knows its true size, which an estimate from its byte buffers can understate
    /// (a selection is not one).
    pub async fn send_sized(&self, message: Message, len: usize) -> Result<(), QueueError> {
        let bytes = self
            .bytes
            .clone()
            .acquire_many_owned(self.charge(len))
            .await
            .map_err(|_| QueueError::Closed)?;
        self.sender
            .send(Queued {
                message,
                _bytes: bytes,
            })
            .await
            .map_err(|_| QueueError::Closed)
    }

    /// Queues `message`, waiting for room as long as the receiving side keeps taking
    /// messages; fails once it took none for `stall` while this one waited.
    pub async fn send_unless_stalled(
        &self,
        message: Message,
        stall: Duration,
    ) -> Result<(), QueueError> {
        let mut sending = pin!(self.send(message));
        loop {
            if let Some(sent) = runtime::timeout(stall, &mut sending).await {
                return sent;
            }
            if self.taken.idle_for() >= stall {
                return Err(QueueError::Stalled(stall));
            }
        }
    }

    /// Queues `message` if there is room now.
    pub fn try_send(&self, message: Message) -> Result<(), QueueError> {
        let bytes = self
            .bytes
            .clone()
            .try_acquire_many_owned(self.charge(message.estimated_len()))
            .map_err(|_| QueueError::Full)?;
        self.sender
            .try_send(Queued {
                message,
                _bytes: bytes,
            })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            })
    }

    /// Whether the receiving side is gone.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// Receives from a [`queue`].
#[derive(Debug)]
pub struct QueueReceiver {
    receiver: mpsc::Receiver<Queued>,
    taken: Arc<Taken>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.message.fmt(f)
    }
}

impl QueueReceiver {
    /// The next message; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Message> {
        let queued = self.receiver.recv().await?;
        self.taken.record();
        Some(queued.message)
    }

    /// The next message if one is queued now.
    pub fn try_recv(&mut self) -> Option<Message> {
        let queued = self.receiver.try_recv().ok()?;
        self.taken.record();
        Some(queued.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goodbye(len: usize) -> Message {
        Message::Goodbye {
            reason: "x".repeat(len),
            kind: None,
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_until_read() {
        let limits = Limits {
            max_queued_messages: 2,
            max_queued_bytes: 1 << 20,
            ..Limits::default()
        };
        let (tx, mut rx) = queue(&limits);
        tx.try_send(goodbye(1)).unwrap();
        tx.try_send(goodbye(2)).unwrap();
        assert_eq!(tx.try_send(goodbye(3)), Err(QueueError::Full));
        assert_eq!(rx.recv().await, Some(goodbye(1)));
        tx.try_send(goodbye(3)).unwrap();
    }

    #[tokio::test]
    async fn bytes_are_bounded_and_released_on_receipt() {
        let limits = Limits {
            max_queued_messages: 100,
            max_queued_bytes: 10_000,
            ..Limits::default()
        };
        let (tx, mut rx) = queue(&limits);
        tx.try_send(goodbye(6_000)).unwrap();
        assert_eq!(tx.try_send(goodbye(6_000)), Err(QueueError::Full));
        // Larger than the whole budget: it waits for an empty queue, then passes alone.
        let big = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(goodbye(50_000)).await }
        });
        assert_eq!(
            rx.recv().await.map(|m| m.estimated_len() > 6_000),
            Some(true)
        );
        big.await.unwrap().unwrap();
        assert_eq!(
            rx.recv().await.map(|m| m.estimated_len() > 50_000),
            Some(true)
        );
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_message_counts_as_the_size_it_is_sent_with() {
        let limits = Limits {
            max_queued_bytes: 10_000,
            ..Limits::default()
        };
        let (tx, mut rx) = queue(&limits);
        // A small message decoded from a large frame holds the frame's share of the budget.
        tx.send_sized(goodbye(1), 9_000).await.unwrap();
        assert_eq!(tx.try_send(goodbye(2_000)), Err(QueueError::Full));
        rx.recv().await.unwrap();
        tx.try_send(goodbye(2_000)).unwrap();
    }

    #[tokio::test]
    async fn a_receiver_that_takes_nothing_stalls_the_sender() {
        let limits = Limits {
            max_queued_messages: 1,
            ..Limits::default()
        };
        let (tx, mut rx) = queue(&limits);
        let stall = Duration::from_millis(200);
        tx.send_unless_stalled(goodbye(1), stall).await.unwrap();
        assert_eq!(
            tx.send_unless_stalled(goodbye(2), stall).await,
            Err(QueueError::Stalled(stall))
        );
        // A receiver that keeps taking is waited for, however long it takes in all.
        let reader = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        });
        for n in 0..5 {
            tx.send_unless_stalled(goodbye(n), stall).await.unwrap();
        }
        drop(tx);
        reader.await.unwrap();
    }
}
