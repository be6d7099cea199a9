//! Offers: the allocator's grants made into offers, ACCEPT (with task
//! validation and launch), DECLINE, and resources handed back.

use super::{
    master_event_of, FrameworkState, KnownAgent, Master, OfferState, TaskEntry,
    DEFAULT_REFUSE_SECONDS,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::super::{
    allocator::AllocatorCommand,
    validation::{validate_task, Context},
};
use crate::{
    domain::{convert::resources_to_proto, status::StatusBuilder, Resource, ResourceBag},
    extension::{Allocation, LabelPoint, OfferMade, Recovered, ReturnReason},
    proto::{
        agent::master_event,
        v1::{
            self,
            scheduler::{call, event, Event},
            task_status::{Reason, Source},
            TaskState,
        },
    },
};

impl Master {
    /// Turns an allocation cycle's grants into OFFERS events.
    pub fn apply_grants(&mut self, grants: Vec<Allocation>) {
        let mut by_framework: BTreeMap<String, Vec<v1::Offer>> = BTreeMap::new();
        let mut made = Vec::new();
        for grant in grants {
            let usable = self
                .frameworks
                .get(&grant.framework_id)
                .is_some_and(FrameworkState::connected)
                && self
                    .agents
                    .get(&grant.agent_id)
                    .is_some_and(KnownAgent::connected);
            if !usable {
                self.return_resources(
                    &grant.framework_id,
                    &grant.agent_id,
                    grant.resources,
                    None,
                    Returning::plain(ReturnReason::NotOffered),
                );
                continue;
            }
            let id = format!("{}-O{}", self.settings.master_id, self.next_offer);
            self.next_offer += 1;
            let agent = &self.agents[&grant.agent_id];
            by_framework
                .entry(grant.framework_id.clone())
                .or_default()
                .push(v1::Offer {
                    id: v1::OfferId { value: id.clone() },
                    framework_id: v1::FrameworkId {
                        value: grant.framework_id.clone(),
                    },
                    agent_id: v1::AgentId {
                        value: grant.agent_id.clone(),
                    },
                    hostname: agent.info.hostname.clone(),
                    resources: resources_to_proto(&grant.resources),
                    attributes: agent.info.attributes.clone(),
                    executor_ids: Vec::new(),
                });
            if let Some(framework) = self.frameworks.get_mut(&grant.framework_id) {
                framework.offers.insert(id.clone());
            }
            made.push(OfferMade {
                offer_id: id.clone(),
                allocation: Allocation {
                    framework_id: grant.framework_id.clone(),
                    agent_id: grant.agent_id.clone(),
                    resources: grant.resources.clone(),
                },
            });
            self.offers.insert(
                id,
                OfferState {
                    framework_id: grant.framework_id,
                    agent_id: grant.agent_id,
                    resources: grant.resources,
                },
            );
        }
        for (framework_id, offers) in by_framework {
            self.send(
                &framework_id,
                Event {
                    r#type: Some(event::Type::Offers as i32),
                    offers: Some(event::Offers { offers }),
                    ..Default::default()
                },
            );
        }
        if !made.is_empty() {
            self.allocator.send(AllocatorCommand::OffersMade(made));
        }
    }

    /// Hands `resources` of `agent_id` that `framework_id` held (an offer
    /// declined or rescinded, what an ACCEPT left unused, a task that
    /// ended) back to the allocator, filtered for `refuse_seconds` if given,
    /// saying why.
    pub(super) fn return_resources(
        &self,
        framework_id: &str,
        agent_id: &str,
        resources: Vec<Resource>,
        refuse_seconds: Option<f64>,
        why: Returning,
    ) {
        if resources.is_empty() {
            return;
        }
        self.allocator.send(AllocatorCommand::Recover(
            Recovered {
                allocation: Allocation {
                    framework_id: framework_id.to_owned(),
                    agent_id: agent_id.to_owned(),
                    resources,
                },
                refuse_seconds,
                reason: why.reason,
                offer_id: why.offer_id,
                task_id: why.task_id,
            },
            self.now_ms(),
        ));
    }

    /// Removes an offer and returns its resources to the allocator. With
    /// `refuse` (a decline) it is not rescinded; without, the framework is
    /// told the offer is gone.
    pub(super) fn drop_offer(&mut self, offer_id: &str, refuse: Option<f64>) {
        let reason = match refuse {
            Some(_) => ReturnReason::Declined,
            None => ReturnReason::Rescinded,
        };
        let Some(offer) = self.offers.remove(offer_id) else {
            return;
        };
        if let Some(framework) = self.frameworks.get_mut(&offer.framework_id) {
            framework.offers.remove(offer_id);
        }
        if refuse.is_none() {
            self.send(
                &offer.framework_id,
                Event {
                    r#type: Some(event::Type::Rescind as i32),
                    rescind: Some(event::Rescind {
                        offer_id: v1::OfferId {
                            value: offer_id.to_owned(),
                        },
                    }),
                    ..Default::default()
                },
            );
        }
        self.return_resources(
            &offer.framework_id,
            &offer.agent_id,
            offer.resources,
            refuse,
            Returning::offer(reason, offer_id),
        );
    }

    pub(super) fn accept(&mut self, framework_id: &str, accept: call::Accept) {
        let refuse = accept
            .filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(DEFAULT_REFUSE_SECONDS);
        let tasks: Vec<v1::TaskInfo> = accept
            .operations
            .into_iter()
            .filter_map(|op| match op.r#type.and_then(|t| v1::offer::operation::Type::try_from(t).ok()) {
                Some(v1::offer::operation::Type::Launch) => op.launch.map(|l| l.task_infos),
                other => {
                    tracing::warn!(framework_id, operation = ?other, "unsupported offer operation ignored");
                    None
                }
            })
            .flatten()
            .collect();

        // Take the offers: every one must exist, be this framework's and be on one agent.
        let mut offers = Vec::new();
        let mut taken = Vec::new();
        let mut problems = Vec::new();
        for offer_id in &accept.offer_ids {
            match self.offers.get(&offer_id.value) {
                Some(o) if o.framework_id == framework_id => {
                    let o = self.offers.remove(&offer_id.value).expect("just found");
                    if let Some(f) = self.frameworks.get_mut(framework_id) {
                        f.offers.remove(&offer_id.value);
                    }
                    offers.push(o);
                    taken.push(offer_id.value.clone());
                }
                _ => problems.push(format!(
                    "offer '{}' is unknown or no longer valid",
                    offer_id.value
                )),
            }
        }
        if accept.offer_ids.is_empty() {
            problems.push("no offers were accepted".to_owned());
        }
        let agents: BTreeSet<&str> = offers.iter().map(|o| o.agent_id.as_str()).collect();
        if agents.len() > 1 {
            problems.push("the offers are on more than one agent".to_owned());
        }
        let agent_id = agents.first().map(|a| (*a).to_owned()).unwrap_or_default();
        if problems.is_empty()
            && !self
                .agents
                .get(&agent_id)
                .is_some_and(KnownAgent::connected)
        {
            problems.push(format!("agent '{agent_id}' is not connected"));
        }
        if !problems.is_empty() {
            let message = problems.join("; ");
            for task in &tasks {
                self.task_error(framework_id, task, &message);
            }
            for (offer, offer_id) in offers.into_iter().zip(&taken) {
                self.return_resources(
                    &offer.framework_id,
                    &offer.agent_id,
                    offer.resources,
                    Some(refuse),
                    Returning::offer(ReturnReason::Declined, offer_id),
                );
            }
            return;
        }

        let mut remaining = ResourceBag::default();
        for offer in &offers {
            remaining.add(&ResourceBag::new(&offer.resources));
        }
        let mut seen = HashSet::new();
        for mut task in tasks {
            let checked = {
                let framework = &self.frameworks[framework_id];
                let known = |id: &str| framework.tasks.contains_key(id);
                validate_task(
                    &task,
                    &Context {
                        agent_id: &agent_id,
                        known_task: &known,
                        seen: &seen,
                        remaining: &remaining,
                    },
                )
            };
            let consumed = match checked {
                Ok(consumed) => consumed,
                Err(invalid) => {
                    self.task_error(framework_id, &task, &invalid.to_string());
                    continue;
                }
            };
            if let Err(message) = self.may_run(framework_id, &task) {
                self.task_unauthorized(framework_id, &task, &message);
                continue;
            }
            remaining.subtract(&consumed);
            seen.insert(task.task_id.value.clone());
            let task_agent = task.agent_id.value.clone();
            self.hooks.decorate_labels(
                LabelPoint::MasterLaunch,
                framework_id,
                &task_agent,
                &mut task,
            );
            self.launch(framework_id, &agent_id, task, consumed.to_list());
        }
        // Several offers' leftovers come back as one: no one offer id.
        let offer_id = match taken.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        self.return_resources(
            framework_id,
            &agent_id,
            remaining.to_list(),
            Some(refuse),
            Returning {
                reason: ReturnReason::Unused,
                offer_id,
                task_id: None,
            },
        );
    }

    /// Whether the framework's principal may run `task` as its user
    /// (`run_tasks`): the task's command's user, else its executor's, else
    /// the framework's.
    fn may_run(&self, framework_id: &str, task: &v1::TaskInfo) -> Result<(), String> {
        let Some(acls) = self.settings.acls.as_deref() else {
            return Ok(());
        };
        let framework = &self.frameworks[framework_id];
        let user = crate::domain::convert::task_user(task, None, &framework.info.user);
        let principal = framework.info.principal.as_deref();
        if acls.allows(crate::domain::acls::Action::RunTask, principal, &user) {
            Ok(())
        } else {
            Err(format!(
                "principal '{}' is not authorized to run tasks as user '{user}'",
                principal.unwrap_or("(none)")
            ))
        }
    }

    /// TASK_ERROR with `REASON_TASK_UNAUTHORIZED`, as Mesos answers a task
    /// its ACLs refuse.
    fn task_unauthorized(&mut self, framework_id: &str, task: &v1::TaskInfo, message: &str) {
        tracing::warn!(framework_id, task_id = %task.task_id.value, message, "unauthorized task");
        self.counters.task_state(TaskState::TaskError);
        let status = StatusBuilder::new(&task.task_id.value, TaskState::TaskError, Source::Master)
            .reason(Reason::TaskUnauthorized)
            .message(message)
            .agent(&task.agent_id.value)
            .build();
        self.send_update(framework_id, status);
    }

    pub(super) fn task_error(&mut self, framework_id: &str, task: &v1::TaskInfo, message: &str) {
        tracing::warn!(framework_id, task_id = %task.task_id.value, message, "invalid task");
        self.counters.task_state(TaskState::TaskError);
        let status = StatusBuilder::new(&task.task_id.value, TaskState::TaskError, Source::Master)
            .reason(Reason::TaskInvalid)
            .message(message)
            .agent(&task.agent_id.value)
            .build();
        self.send_update(framework_id, status);
    }

    pub(super) fn launch(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: v1::TaskInfo,
        resources: Vec<Resource>,
    ) {
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("accepting framework exists");
        let status =
            StatusBuilder::new(&task.task_id.value, TaskState::TaskStaging, Source::Master)
                .agent(agent_id)
                .executor(task.executor.as_ref().map(|e| e.executor_id.value.as_str()))
                .build();
        let entry = TaskEntry {
            info: task.clone(),
            framework_id: framework_id.to_owned(),
            agent_id: agent_id.to_owned(),
            executor_id: task.executor.as_ref().map(|e| e.executor_id.value.clone()),
            status,
            resources,
            resources_recovered: false,
            history: Vec::new(),
        };
        framework.tasks.insert(task.task_id.value.clone(), entry);
        let framework_info = framework.info.clone();
        tracing::info!(framework_id, agent_id, task_id = %task.task_id.value, "launching task");
        self.publish_task_added(framework_id, &task.task_id.value);
        self.send_to_agent(
            agent_id,
            master_event_of(master_event::Type::RunTask, |e| {
                e.run_task = Some(master_event::RunTask {
                    framework_info,
                    task,
                })
            }),
        );
    }
}

/// Why resources go back to the allocator, and from what.
#[derive(Debug, Clone)]
pub(super) struct Returning {
    pub reason: ReturnReason,
    pub offer_id: Option<String>,
    pub task_id: Option<String>,
}

impl Returning {
    pub fn plain(reason: ReturnReason) -> Self {
        Returning {
            reason,
            offer_id: None,
            task_id: None,
        }
    }

    pub fn offer(reason: ReturnReason, offer_id: &str) -> Self {
        Returning {
            offer_id: Some(offer_id.to_owned()),
            ..Returning::plain(reason)
        }
    }

    pub fn task(task_id: &str) -> Self {
        Returning {
            task_id: Some(task_id.to_owned()),
            ..Returning::plain(ReturnReason::TaskEnded)
        }
    }
}
