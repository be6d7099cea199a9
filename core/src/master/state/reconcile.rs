//! RECONCILE: the master's answer for every task a framework asks about.

use super::{Master, TaskEntry};
use crate::{
    domain::status::StatusBuilder,
    proto::v1::{
        self,
        scheduler::call,
        task_status::{Reason, Source},
        TaskState,
    },
};

impl Master {
    /// Answers a RECONCILE (see docs/reconciliation.md): one UPDATE per
    /// task asked about, or per live task when the list is empty; answers
    /// come from the master (`SOURCE_MASTER`, no uuid, never acknowledged).
    pub(super) fn reconcile(&mut self, framework_id: &str, reconcile: call::Reconcile) {
        let framework = &self.frameworks[framework_id];
        let partition_aware =
            framework.info.capabilities.iter().any(|c| {
                c.r#type == Some(v1::framework_info::capability::Type::PartitionAware as i32)
            });
        let answer = |task: &TaskEntry| {
            let mut status = task.status.clone();
            status.source = Some(Source::Master as i32);
            status.reason = Some(Reason::Reconciliation as i32);
            status.message = Some("Reconciliation: Latest task state".into());
            status.uuid = None;
            status.timestamp = Some(crate::domain::status::now_seconds());
            status
        };
        let Some(events) = framework.connection.as_ref().map(|c| &c.events) else {
            return;
        };
        // Each answer is queued as it is made, never all of them first: a
        // huge list costs at most the stream's queue bound, and once the
        // queue overflows (a framework that does not read) the rest is not
        // even computed.
        let send = |status: v1::TaskStatus| self.queue_update(framework_id, events, status);
        if reconcile.tasks.is_empty() {
            // Implicit: every task the master has not forgotten as done.
            for task in framework.tasks.values() {
                if !send(answer(task)) {
                    return;
                }
            }
        } else {
            let _ = reconcile
                .tasks
                .iter()
                .filter(|t| {
                    // Tasks of an agent still re-registering get no answer
                    // until it is back or removed, as in Mesos.
                    framework.tasks.contains_key(&t.task_id.value)
                        || !t
                            .agent_id
                            .as_ref()
                            .is_some_and(|a| self.recovering.contains_key(&a.value))
                })
                .map(|t| {
                    let id = &t.task_id.value;
                    let known = framework.tasks.get(id).or_else(|| {
                        framework
                            .completed_tasks()
                            .rev()
                            .find(|c| c.info.task_id.value == *id)
                    });
                    if let Some(task) = known {
                        return answer(task);
                    }
                    let agent = t.agent_id.as_ref().map(|a| a.value.as_str());
                    let (state, reason, message) = match agent {
                        Some(a) if self.removed_agents.contains(a) => (
                            if partition_aware {
                                TaskState::TaskGone
                            } else {
                                TaskState::TaskLost
                            },
                            Reason::AgentRemoved,
                            format!("Reconciliation: agent {a} was removed"),
                        ),
                        _ => (
                            if partition_aware {
                                TaskState::TaskUnknown
                            } else {
                                TaskState::TaskLost
                            },
                            Reason::Reconciliation,
                            "Reconciliation: Task is unknown".to_owned(),
                        ),
                    };
                    let mut b = StatusBuilder::new(id, state, Source::Master)
                        .reason(reason)
                        .message(message);
                    if let Some(agent) = agent {
                        b = b.agent(agent);
                    }
                    b.build()
                })
                .try_for_each(|status| send(status).then_some(()));
        }
    }
}
