//! The queues that carry events to a connection (a framework's, an agent's
//! or an executor's stream).
//!
//! Each queue is bounded in bytes: an event costs its in-memory size plus
//! its encoded length. `deliver` never blocks (the master calls it with its
//! state locked): past the bound the queue *overflows*: its events are
//! dropped at once (the memory goes back now, not when the client leaves),
//! nothing more is accepted and the receiving stream ends. The owner sees
//! [`EventSender::overflowed`] and treats it as a disconnection.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use tokio::sync::Notify;

/// The default bound of a framework's SUBSCRIBE stream: room for a
/// RECONCILE of ~250k tasks answered at once (an event costs ~1 KiB queued).
pub const FRAMEWORK_QUEUE_BYTES: usize = 256 * 1024 * 1024;
/// The default bound of an agent's stream from the master. Disconnecting
/// an agent loses the tasks of non-checkpointing frameworks, so this is an
/// emergency valve, not a flow control: 1 GiB.
pub const AGENT_QUEUE_BYTES: usize = 1024 * 1024 * 1024;
/// The default bound of an operator's SUBSCRIBE stream beyond the state
/// it starts with: a subscriber this far behind is dropped.
pub const OBSERVER_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// The default bound of an executor's stream from its agent (LAUNCH, KILL,
/// ACKNOWLEDGED, SHUTDOWN: small events, a handful per task).
pub const EXECUTOR_QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// A daemon's figures over all its queues, for its metrics.
#[derive(Debug, Default)]
pub struct QueueStats {
    queued_bytes: AtomicUsize,
    overflows: AtomicU64,
}

impl QueueStats {
    /// Bytes queued now, over every queue.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// Queues that overflowed since the daemon started.
    pub fn overflows(&self) -> u64 {
        self.overflows.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The sender was dropped: the receiver gets what is queued, then ends.
    Closed,
    /// Past the bound: nothing queued, the receiver ends at once.
    Overflowed,
    /// The receiver was dropped.
    Gone,
}

#[derive(Debug)]
struct Queue<E> {
    /// Each event with what it was charged.
    events: VecDeque<(usize, Box<E>)>,
    bytes: usize,
    state: State,
}

#[derive(Debug)]
struct Shared<E> {
    queue: Mutex<Queue<E>>,
    ready: Notify,
    max_bytes: usize,
    stats: Arc<QueueStats>,
    /// Who reads the queue, for the log line when it overflows.
    label: String,
}

impl<E> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Queue<E>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Ends the queue in `state`, dropping what it holds (outside the lock)
    /// unless `keep`.
    fn end(&self, state: State, keep: bool) {
        let dropped = {
            let mut q = self.lock();
            if q.state != State::Open {
                return;
            }
            q.state = state;
            if keep {
                VecDeque::new()
            } else {
                self.stats
                    .queued_bytes
                    .fetch_sub(q.bytes, Ordering::Relaxed);
                q.bytes = 0;
                std::mem::take(&mut q.events)
            }
        };
        self.ready.notify_one();
        drop(dropped);
    }
}

/// The sending side of one connection's event queue. Dropping it ends the
/// stream once what is queued has gone out.
#[derive(Debug)]
pub struct EventSender<E> {
    shared: Arc<Shared<E>>,
}

/// The receiving side; dropping it releases what is queued.
#[derive(Debug)]
pub struct EventReceiver<E> {
    shared: Arc<Shared<E>>,
}

/// A queue of at most `max_bytes` for the connection `label` (named in the
/// log line if it overflows), counted in `stats`.
pub fn channel<E>(
    label: impl Into<String>,
    max_bytes: usize,
    stats: &Arc<QueueStats>,
) -> (EventSender<E>, EventReceiver<E>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            events: VecDeque::new(),
            bytes: 0,
            state: State::Open,
        }),
        ready: Notify::new(),
        max_bytes,
        stats: stats.clone(),
        label: label.into(),
    });
    (
        EventSender {
            shared: shared.clone(),
        },
        EventReceiver { shared },
    )
}

impl<E> EventSender<E> {
    /// Whether the queue overflowed (its connection is to be treated as
    /// gone).
    pub fn overflowed(&self) -> bool {
        self.shared.lock().state == State::Overflowed
    }

    /// Bytes queued now.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }
}

impl<E> Drop for EventSender<E> {
    fn drop(&mut self) {
        self.shared.end(State::Closed, true);
    }
}

impl<E> Drop for EventReceiver<E> {
    fn drop(&mut self) {
        self.shared.end(State::Gone, false);
    }
}

impl<E> EventReceiver<E> {
    /// Moves queued events into `out`, without waiting, until they were
    /// charged `budget` bytes; how many.
    pub fn take_ready(&mut self, budget: usize, out: &mut Vec<Box<E>>) -> usize {
        let mut q = self.shared.lock();
        if q.state == State::Overflowed || !super::lease::acting() {
            return 0;
        }
        let mut taken = 0;
        let mut count = 0;
        while taken < budget {
            let Some((cost, event)) = q.events.pop_front() else {
                break;
            };
            taken += cost;
            count += 1;
            out.push(event);
        }
        q.bytes -= taken;
        self.shared
            .stats
            .queued_bytes
            .fetch_sub(taken, Ordering::Relaxed);
        count
    }

    /// Waits for events and moves queued ones into `out` until they were
    /// charged `budget` bytes (at least one event). False when the stream
    /// is over: the sender is gone and everything went out, or the queue
    /// overflowed.
    pub async fn recv(&mut self, budget: usize, out: &mut Vec<Box<E>>) -> bool {
        loop {
            {
                let mut q = self.shared.lock();
                // A master whose leadership lease ran out sends nothing more.
                if q.state == State::Overflowed || !super::lease::acting() {
                    return false;
                }
                if !q.events.is_empty() {
                    let mut taken = 0;
                    while let Some((cost, event)) = q.events.pop_front() {
                        taken += cost;
                        out.push(event);
                        if taken >= budget {
                            break;
                        }
                    }
                    q.bytes -= taken;
                    self.shared
                        .stats
                        .queued_bytes
                        .fetch_sub(taken, Ordering::Relaxed);
                    return true;
                }
                if q.state != State::Open {
                    return false;
                }
            }
            self.shared.ready.notified().await;
        }
    }
}

/// Queues `event` on a connection's queue; false when the connection is
/// gone or the queue overflowed (then or before). Never blocks.
pub fn deliver<E: prost::Message>(events: &EventSender<E>, event: E) -> bool {
    let cost = std::mem::size_of::<E>() + event.encoded_len();
    deliver_charged(events, event, cost)
}

/// [`deliver`] for an event charged `cost` bytes (one encoded already).
pub fn deliver_charged<E>(events: &EventSender<E>, event: E, cost: usize) -> bool {
    let shared = &events.shared;
    let mut q = shared.lock();
    if q.state != State::Open {
        return false;
    }
    if q.bytes + cost > shared.max_bytes {
        let (queued, count) = (q.bytes, q.events.len());
        drop(q);
        shared.stats.overflows.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            connection = %shared.label,
            queued_events = count,
            queued_bytes = queued,
            max_bytes = shared.max_bytes,
            "event queue full (the client does not read its stream): closing the stream"
        );
        shared.end(State::Overflowed, false);
        return false;
    }
    let was_empty = q.events.is_empty();
    q.events.push_back((cost, Box::new(event)));
    q.bytes += cost;
    drop(q);
    shared.stats.queued_bytes.fetch_add(cost, Ordering::Relaxed);
    if was_empty {
        shared.ready.notify_one();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::TaskId;

    fn id(n: usize) -> TaskId {
        TaskId {
            value: format!("task-{n}"),
        }
    }

    #[tokio::test]
    async fn events_go_out_in_order_then_the_stream_ends() {
        let stats = Arc::new(QueueStats::default());
        let (tx, mut rx) = channel("test", 1 << 20, &stats);
        for n in 0..10 {
            assert!(deliver(&tx, id(n)));
        }
        assert!(stats.queued_bytes() > 0);
        drop(tx);
        let mut out = Vec::new();
        while rx.recv(1, &mut out).await {}
        let got: Vec<String> = out.into_iter().map(|t| t.value).collect();
        assert_eq!(
            got,
            (0..10).map(|n| format!("task-{n}")).collect::<Vec<_>>()
        );
        assert_eq!(stats.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn past_the_bound_the_queue_is_emptied_and_the_stream_ends() {
        let stats = Arc::new(QueueStats::default());
        let (tx, mut rx) = channel("test", 64 * 1024, &stats);
        let mut accepted = 0;
        while deliver(&tx, id(accepted)) {
            accepted += 1;
        }
        assert!(accepted > 100, "{accepted}");
        assert!(tx.overflowed());
        assert_eq!(stats.queued_bytes(), 0, "the memory is released at once");
        assert_eq!(stats.overflows(), 1);
        assert!(!deliver(&tx, id(0)), "nothing more is accepted");
        let mut out = Vec::new();
        assert!(!rx.recv(usize::MAX, &mut out).await);
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn take_ready_takes_what_is_queued_without_waiting() {
        let stats = Arc::new(QueueStats::default());
        let (tx, mut rx) = channel("test", 1 << 20, &stats);
        let mut out = Vec::new();
        assert_eq!(rx.take_ready(usize::MAX, &mut out), 0);
        for n in 0..3 {
            assert!(deliver(&tx, id(n)));
        }
        assert_eq!(rx.take_ready(1, &mut out), 1, "the budget holds");
        assert_eq!(rx.take_ready(usize::MAX, &mut out), 2);
        let got: Vec<String> = out.into_iter().map(|t| t.value).collect();
        assert_eq!(got, ["task-0", "task-1", "task-2"]);
        assert_eq!(stats.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn a_dropped_receiver_releases_the_queue() {
        let stats = Arc::new(QueueStats::default());
        let (tx, rx) = channel("test", 1 << 20, &stats);
        assert!(deliver(&tx, id(1)));
        drop(rx);
        assert_eq!(stats.queued_bytes(), 0);
        assert!(!deliver(&tx, id(2)));
        assert!(!tx.overflowed());
    }
}
