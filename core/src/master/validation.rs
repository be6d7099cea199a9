//! Checking tasks in an ACCEPT before they launch. Each failure becomes a
//! `TASK_ERROR` (`SOURCE_MASTER`, `REASON_TASK_INVALID`) whose message (a
//! [`TaskInvalid`]) says exactly what was wrong.

use std::{collections::HashSet, fmt};

use crate::{
    domain::{
        convert::resource_from_proto,
        format_resources,
        ids::{validate_id, IdError, IdKind},
        Resource, ResourceBag, ResourceValue,
    },
    proto::v1,
};

/// What a rule is about: the task, or the executor it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Task {
        task_id: String,
    },
    Executor {
        executor_id: String,
        task_id: String,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Task { task_id } => write!(f, "task '{task_id}'"),
            Subject::Executor {
                executor_id,
                task_id,
            } => write!(f, "executor '{executor_id}' of task '{task_id}'"),
        }
    }
}

/// Why a task cannot launch, one variant per rule; the message is the
/// `TASK_ERROR`'s.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskInvalid {
    /// The task id (which names the command executor, and so its sandbox)
    /// breaks the id rule.
    #[error("{0}")]
    BadId(IdError),
    #[error("task id '{task_id}' appears more than once in this ACCEPT")]
    RepeatedInAccept { task_id: String },
    #[error("task id '{task_id}' is already in use by another task of this framework")]
    IdInUse { task_id: String },
    #[error("task '{task_id}' names agent '{named}' but its offers are for agent '{offered}'")]
    WrongAgent {
        task_id: String,
        named: String,
        offered: String,
    },
    #[error("task '{task_id}' must have exactly one of 'command' or 'executor'")]
    CommandOrExecutor { task_id: String },
    #[error("task '{task_id}' has an invalid executor: {error}")]
    BadExecutorId { task_id: String, error: IdError },
    #[error("{0} has no 'command'")]
    NoCommand(Subject),
    #[error("{0} has a shell command without a 'value'")]
    NoShellValue(Subject),
    #[error("{0} has a command without a 'value' (the program to run)")]
    NoProgram(Subject),
    #[error("{subject} has resource '{resource}' with a missing or unsupported value")]
    UnsupportedResource { subject: Subject, resource: String },
    #[error("{subject} has resource '{resource}' with reversed range [{begin}-{end}]: a range must not end before it begins")]
    ReversedRange {
        subject: Subject,
        resource: String,
        begin: u64,
        end: u64,
    },
    #[error("{subject} has resource '{resource}' with invalid value {value}")]
    InvalidResourceValue {
        subject: Subject,
        resource: String,
        value: f64,
    },
    #[error("task '{task_id}' needs a positive '{resource}' resource")]
    MissingResource {
        task_id: String,
        resource: &'static str,
    },
    #[error(
        "task '{task_id}' uses resources {} that are not in the offers (remaining: {})",
        format_resources(wanted),
        format_resources(remaining)
    )]
    NotInOffers {
        task_id: String,
        wanted: Vec<Resource>,
        remaining: Vec<Resource>,
    },
}

/// Parses a resource list, rejecting malformed or negative entries.
fn parse_resources(list: &[v1::Resource], whose: &Subject) -> Result<Vec<Resource>, TaskInvalid> {
    list.iter()
        .map(|r| {
            let parsed =
                resource_from_proto(r).ok_or_else(|| TaskInvalid::UnsupportedResource {
                    subject: whose.clone(),
                    resource: r.name.clone(),
                })?;
            match &parsed.value {
                ResourceValue::Scalar(value) if !value.is_finite() || *value < 0.0 => {
                    return Err(TaskInvalid::InvalidResourceValue {
                        subject: whose.clone(),
                        resource: r.name.clone(),
                        value: *value,
                    });
                }
                ResourceValue::Ranges(ranges) => {
                    if let Some(&(begin, end)) = ranges.iter().find(|(b, e)| b > e) {
                        return Err(TaskInvalid::ReversedRange {
                            subject: whose.clone(),
                            resource: r.name.clone(),
                            begin,
                            end,
                        });
                    }
                }
                _ => {}
            }
            Ok(parsed)
        })
        .collect()
}

/// Everything the checks need to know besides the task itself.
pub struct Context<'a> {
    /// The agent all accepted offers are on.
    pub agent_id: &'a str,
    /// Whether the framework already has a task with this id.
    pub known_task: &'a dyn Fn(&str) -> bool,
    /// Task ids launched earlier in the same ACCEPT.
    pub seen: &'a HashSet<String>,
    /// What is left of the offers.
    pub remaining: &'a ResourceBag,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("agent_id", &self.agent_id)
            .field("seen", &self.seen)
            .finish()
    }
}

/// Checks `task`; on success returns the resources it consumes (its own and
/// its executor's).
pub fn validate_task(task: &v1::TaskInfo, cx: &Context<'_>) -> Result<ResourceBag, TaskInvalid> {
    let id = task.task_id.value.as_str();
    let task_id = || id.to_owned();
    validate_id(IdKind::Task, id).map_err(TaskInvalid::BadId)?;
    if cx.seen.contains(id) {
        return Err(TaskInvalid::RepeatedInAccept { task_id: task_id() });
    }
    if (cx.known_task)(id) {
        return Err(TaskInvalid::IdInUse { task_id: task_id() });
    }
    if task.agent_id.value != cx.agent_id {
        return Err(TaskInvalid::WrongAgent {
            task_id: task_id(),
            named: task.agent_id.value.clone(),
            offered: cx.agent_id.to_owned(),
        });
    }
    let the_task = Subject::Task { task_id: task_id() };
    let its_executor = |executor: &v1::ExecutorInfo| Subject::Executor {
        executor_id: executor.executor_id.value.clone(),
        task_id: task_id(),
    };
    match (&task.command, &task.executor) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(TaskInvalid::CommandOrExecutor { task_id: task_id() });
        }
        (Some(command), None) => check_command(command, &the_task)?,
        (None, Some(executor)) => {
            validate_id(IdKind::Executor, &executor.executor_id.value).map_err(|error| {
                TaskInvalid::BadExecutorId {
                    task_id: task_id(),
                    error,
                }
            })?;
            let whose = its_executor(executor);
            let command = executor
                .command
                .as_ref()
                .ok_or_else(|| TaskInvalid::NoCommand(whose.clone()))?;
            check_command(command, &whose)?;
        }
    }
    let own = parse_resources(&task.resources, &the_task)?;
    let own_bag = ResourceBag::new(&own);
    for needed in ["cpus", "mem"] {
        if own_bag.scalar(needed) <= 0.0 {
            return Err(TaskInvalid::MissingResource {
                task_id: task_id(),
                resource: needed,
            });
        }
    }
    let mut total = own_bag;
    if let Some(executor) = &task.executor {
        total.add(&ResourceBag::new(&parse_resources(
            &executor.resources,
            &its_executor(executor),
        )?));
    }
    if !cx.remaining.contains(&total) {
        return Err(TaskInvalid::NotInOffers {
            task_id: task_id(),
            wanted: total.to_list(),
            remaining: cx.remaining.to_list(),
        });
    }
    Ok(total)
}

fn check_command(command: &v1::CommandInfo, whose: &Subject) -> Result<(), TaskInvalid> {
    let shell = command.shell.unwrap_or(true);
    match &command.value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ if shell => Err(TaskInvalid::NoShellValue(whose.clone())),
        _ => Err(TaskInvalid::NoProgram(whose.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::convert::resource_to_proto;

    fn task(id: &str, cpus: f64, mem: f64) -> v1::TaskInfo {
        v1::TaskInfo {
            name: id.into(),
            task_id: v1::TaskId { value: id.into() },
            agent_id: v1::AgentId { value: "A".into() },
            resources: vec![
                resource_to_proto(&Resource::scalar("cpus", cpus)),
                resource_to_proto(&Resource::scalar("mem", mem)),
            ],
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn check(t: &v1::TaskInfo) -> Result<ResourceBag, TaskInvalid> {
        let remaining = ResourceBag::new(&[
            Resource::scalar("cpus", 1.0),
            Resource::scalar("mem", 128.0),
        ]);
        let seen = HashSet::from(["dup".to_owned()]);
        let known = |id: &str| id == "old";
        validate_task(
            t,
            &Context {
                agent_id: "A",
                known_task: &known,
                seen: &seen,
                remaining: &remaining,
            },
        )
    }

    #[test]
    fn a_task_that_fits_is_accepted_with_its_resources() {
        assert_eq!(check(&task("t", 0.5, 64.0)).unwrap().scalar("cpus"), 0.5);
    }

    #[test]
    fn each_invalid_task_gets_a_message_saying_what_is_wrong() {
        let cases: Vec<(v1::TaskInfo, &str)> = vec![
            (task("t", 2.0, 64.0), "task 't' uses resources cpus:2;mem:64 that are not in the offers (remaining: cpus:1;mem:128)"),
            (task("t", 0.0, 64.0), "task 't' needs a positive 'cpus' resource"),
            (task("t", 0.5, -1.0), "task 't' has resource 'mem' with invalid value -1"),
            (task("old", 0.1, 10.0), "task id 'old' is already in use by another task of this framework"),
            (task("dup", 0.1, 10.0), "task id 'dup' appears more than once in this ACCEPT"),
            (task("", 0.1, 10.0), "task id '' is invalid: it must not be empty"),
            (task("..", 0.1, 10.0), "task id '..' is invalid: '.' and '..' are not allowed"),
            (task("a b", 0.1, 10.0), "task id 'a b' is invalid: it must not contain whitespace"),
            (
                v1::TaskInfo {
                    command: None,
                    executor: Some(v1::ExecutorInfo { executor_id: v1::ExecutorId { value: "../../x".into() }, ..Default::default() }),
                    ..task("t", 0.1, 10.0)
                },
                "task 't' has an invalid executor: executor id '../../x' is invalid: it must not contain '/' or '\\'",
            ),
            (v1::TaskInfo { command: None, ..task("t", 0.1, 10.0) }, "task 't' must have exactly one of 'command' or 'executor'"),
            (
                v1::TaskInfo { agent_id: v1::AgentId { value: "B".into() }, ..task("t", 0.1, 10.0) },
                "task 't' names agent 'B' but its offers are for agent 'A'",
            ),
            (
                v1::TaskInfo { command: Some(v1::CommandInfo::default()), ..task("t", 0.1, 10.0) },
                "task 't' has a shell command without a 'value'",
            ),
            (
                v1::TaskInfo {
                    command: None,
                    executor: Some(v1::ExecutorInfo { executor_id: v1::ExecutorId { value: "e".into() }, ..Default::default() }),
                    ..task("t", 0.1, 10.0)
                },
                "executor 'e' of task 't' has no 'command'",
            ),
        ];
        for (t, expected) in cases {
            assert_eq!(check(&t).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn a_reversed_port_range_is_refused_and_named() {
        let mut t = task("t", 0.1, 10.0);
        t.resources.push(resource_to_proto(&Resource {
            name: "ports".into(),
            role: "*".into(),
            value: ResourceValue::Ranges(vec![(31000, 31010), (32000, 31000)]),
        }));
        assert_eq!(
            check(&t).unwrap_err().to_string(),
            "task 't' has resource 'ports' with reversed range [32000-31000]: a range must not end before it begins"
        );
    }

    #[test]
    fn a_bad_executor_resource_names_the_executor_and_the_resource() {
        let t = v1::TaskInfo {
            command: None,
            executor: Some(v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "e".into() },
                command: Some(v1::CommandInfo {
                    value: Some("run".into()),
                    ..Default::default()
                }),
                resources: vec![resource_to_proto(&Resource::scalar("cpus", f64::NAN))],
                ..Default::default()
            }),
            ..task("t", 0.1, 10.0)
        };
        let error = check(&t).unwrap_err();
        let TaskInvalid::InvalidResourceValue {
            subject, resource, ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            *subject,
            Subject::Executor {
                executor_id: "e".into(),
                task_id: "t".into()
            }
        );
        assert_eq!(resource, "cpus");
        assert_eq!(
            error.to_string(),
            "executor 'e' of task 't' has resource 'cpus' with invalid value NaN"
        );
    }
}
