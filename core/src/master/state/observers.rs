//! Operators' SUBSCRIBE streams (v1 operator API): each starts with the
//! state taken under the master's lock and then gets every change made
//! under it, in order, so nothing falls between the two.
//!
//! Each stream is a bounded queue (`domain::events`) of records framed
//! already: an event is encoded once per encoding, whatever the number of
//! subscribers, and each queue holds a shared reference to the bytes.
//! Publishing never blocks and costs nothing while nobody subscribes; a
//! subscriber whose queue overflows is dropped (its stream ends), not
//! buffered without limit.

use bytes::Bytes;

use super::Master;
use crate::domain::acls::Action;
use crate::{
    domain::events::{self, deliver_charged, EventReceiver, EventSender},
    master::operator_view,
    proto::v1::{
        self,
        master::{event, Event},
    },
    wire::{
        codec::{encode, Encoding},
        recordio::record,
    },
};

#[derive(Debug)]
struct Observer {
    encoding: Encoding,
    records: EventSender<Bytes>,
    /// Who subscribed: with ACLs, it gets only the events of frameworks and
    /// tasks it may view.
    principal: Option<String>,
}

/// Who may see an event: those the ACLs let do `Action` on the user.
type Visibility = Option<(Action, String)>;

#[derive(Debug, Default)]
pub(super) struct Observers {
    streams: Vec<Observer>,
    next: u64,
}

/// `event` as one RecordIO record in `encoding`.
pub fn framed(event: &Event, encoding: Encoding) -> Bytes {
    Bytes::from(record(&encode(event, encoding)))
}

/// What a queued record is charged: its bytes and its handle.
fn cost(record: &Bytes) -> usize {
    record.len() + std::mem::size_of::<Bytes>()
}

fn event_of(kind: event::Type, fill: impl FnOnce(&mut Event)) -> Event {
    let mut e = Event {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut e);
    e
}

impl Master {
    /// Opens an operator's stream in `encoding`: every change from now on
    /// is queued on it (at most `observer_queue_bytes`). The caller takes
    /// the state under the same lock and sends it first (`SUBSCRIBED`),
    /// encoding it after the lock is released.
    pub fn observe(&mut self, encoding: Encoding, principal: Option<&str>) -> EventReceiver<Bytes> {
        self.observers.next += 1;
        let (tx, rx) = events::channel(
            format!("operator subscriber {}", self.observers.next),
            self.settings.observer_queue_bytes,
            &self.queue_stats,
        );
        self.observers.streams.push(Observer {
            encoding,
            records: tx,
            principal: principal.map(str::to_owned),
        });
        self.counters.bump("operator_subscriptions");
        rx
    }

    /// Operators' streams open now.
    pub fn observer_count(&self) -> usize {
        self.observers.streams.len()
    }

    /// Queues the event `make` builds on every stream, dropping the
    /// streams that are gone or overflowed. Builds nothing when none.
    fn publish(&mut self, make: impl FnOnce(&Master) -> Option<Event>) {
        self.publish_to(None, make);
    }

    /// [`Master::publish`] to the subscribers `visibility` lets see it.
    fn publish_to(&mut self, visibility: Visibility, make: impl FnOnce(&Master) -> Option<Event>) {
        if self.observers.streams.is_empty() {
            return;
        }
        let Some(event) = make(self) else { return };
        let before = self.observers.streams.len();
        let acls = self.settings.acls.clone();
        let hidden = |o: &Observer| {
            visibility.as_ref().is_some_and(|(action, user)| {
                !crate::domain::acls::allowed(
                    acls.as_deref(),
                    *action,
                    o.principal.as_deref(),
                    user,
                )
            })
        };
        // Encoded once per encoding in use.
        let mut encoded: [Option<Bytes>; 2] = [None, None];
        self.observers.streams.retain(|o| {
            if hidden(o) {
                return true;
            }
            let slot = match o.encoding {
                Encoding::Json => 0,
                Encoding::Protobuf => 1,
            };
            let record = encoded[slot]
                .get_or_insert_with(|| framed(&event, o.encoding))
                .clone();
            let charged = cost(&record);
            deliver_charged(&o.records, record, charged)
        });
        let dropped = before - self.observers.streams.len();
        if dropped > 0 {
            tracing::info!(dropped, "operator subscribers left or fell behind");
        }
    }

    /// Who may see the events of task `task_id` (its user), with ACLs.
    fn task_visibility(&self, framework_id: &str, task_id: &str) -> Visibility {
        self.settings.acls.as_ref()?;
        let f = self.frameworks.get(framework_id).or_else(|| {
            self.completed_frameworks
                .iter()
                .find(|f| f.id == framework_id)
        })?;
        let task = f.tasks.get(task_id).or_else(|| {
            f.completed_tasks()
                .find(|t| t.info.task_id.value == task_id)
        });
        let user = match task {
            Some(t) => crate::domain::convert::task_user(&t.info, None, &f.info.user),
            None => f.info.user.clone(),
        };
        Some((Action::ViewTask, user))
    }

    fn framework_visibility(&self, user: &str) -> Visibility {
        self.settings.acls.as_ref()?;
        Some((Action::ViewFramework, user.to_owned()))
    }

    pub(super) fn publish_task_added(&mut self, framework_id: &str, task_id: &str) {
        let visibility = self.task_visibility(framework_id, task_id);
        self.publish_to(visibility, |m| {
            let f = m.frameworks.get(framework_id)?;
            let task = f.tasks.get(task_id)?;
            Some(event_of(event::Type::TaskAdded, |e| {
                e.task_added = Some(event::TaskAdded {
                    task: operator_view::task(task, &f.info.user),
                });
            }))
        });
    }

    pub(super) fn publish_task_updated(&mut self, framework_id: &str, status: &v1::TaskStatus) {
        let visibility = self.task_visibility(framework_id, &status.task_id.value);
        self.publish_to(visibility, |_| {
            Some(event_of(event::Type::TaskUpdated, |e| {
                e.task_updated = Some(event::TaskUpdated {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_owned(),
                    },
                    state: status.state,
                    status: status.clone(),
                });
            }))
        });
    }

    /// FRAMEWORK_ADDED (`added`) or FRAMEWORK_UPDATED (re-subscribed or
    /// disconnected).
    pub(super) fn publish_framework(&mut self, framework_id: &str, added: bool) {
        let user = self
            .frameworks
            .get(framework_id)
            .map(|f| f.info.user.clone())
            .unwrap_or_default();
        let visibility = self.framework_visibility(&user);
        self.publish_to(visibility, |m| {
            let f = m.frameworks.get(framework_id)?;
            let framework = operator_view::framework(f, f.connected(), Vec::new(), &[], &[]);
            Some(if added {
                event_of(event::Type::FrameworkAdded, |e| {
                    e.framework_added = Some(event::FrameworkAdded { framework });
                })
            } else {
                event_of(event::Type::FrameworkUpdated, |e| {
                    e.framework_updated = Some(event::FrameworkUpdated { framework });
                })
            })
        });
    }

    pub(super) fn publish_framework_removed(&mut self, framework_info: v1::FrameworkInfo) {
        let visibility = self.framework_visibility(&framework_info.user);
        self.publish_to(visibility, |_| {
            Some(event_of(event::Type::FrameworkRemoved, |e| {
                e.framework_removed = Some(event::FrameworkRemoved { framework_info });
            }))
        });
    }

    /// AGENT_ADDED, on registration and on re-registration (as Mesos).
    pub(super) fn publish_agent_added(&mut self, agent_id: &str) {
        self.publish(|m| {
            let a = m.agents.get(agent_id)?;
            let agent = operator_view::agent(a, &[], &[]);
            Some(event_of(event::Type::AgentAdded, |e| {
                e.agent_added = Some(event::AgentAdded { agent });
            }))
        });
    }

    pub(super) fn publish_agent_removed(&mut self, agent_id: &str) {
        self.publish(|_| {
            Some(event_of(event::Type::AgentRemoved, |e| {
                e.agent_removed = Some(event::AgentRemoved {
                    agent_id: v1::AgentId {
                        value: agent_id.to_owned(),
                    },
                });
            }))
        });
    }

    /// Ends every operator's stream (the master stops).
    pub(super) fn close_observers(&mut self) {
        self.observers.streams.clear();
    }
}

/// The `HEARTBEAT` event.
pub fn heartbeat() -> Event {
    event_of(event::Type::Heartbeat, |_| {})
}
