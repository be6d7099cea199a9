//! The channels that carry events to a connection (a framework's, an
//! agent's or an executor's stream).

use tokio::sync::mpsc;

/// The sending side of one connection's event stream. Events travel boxed:
/// a channel allocates room for 32 of them up front, and an unboxed event
/// (with a task's whole TaskInfo inline) is kilobytes, which made every idle
/// agent connection cost ~50 KiB.
pub type EventSender<E> = mpsc::UnboundedSender<Box<E>>;

/// Queues `event` on a connection's channel; false when the connection is
/// gone.
pub fn deliver<E>(events: &EventSender<E>, event: E) -> bool {
    events.send(Box::new(event)).is_ok()
}
