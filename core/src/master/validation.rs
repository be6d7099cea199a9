//! Checking tasks in an ACCEPT before they launch. Each failure becomes a
//! `TASK_ERROR` (`SOURCE_MASTER`, `REASON_TASK_INVALID`) whose message says
//! exactly what was wrong.

use std::collections::HashSet;

use crate::{
    domain::{
        convert::resource_from_proto, format_resources, Resource, ResourceBag, ResourceValue,
    },
    proto::v1,
};

/// Parses a resource list, rejecting malformed or negative entries.
fn parse_resources(list: &[v1::Resource], whose: &str) -> Result<Vec<Resource>, String> {
    list.iter()
        .map(|r| {
            let parsed = resource_from_proto(r).ok_or_else(|| {
                format!(
                    "{whose} has resource '{}' with a missing or unsupported value",
                    r.name
                )
            })?;
            if let ResourceValue::Scalar(v) = parsed.value {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!(
                        "{whose} has resource '{}' with invalid value {v}",
                        r.name
                    ));
                }
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
pub fn validate_task(task: &v1::TaskInfo, cx: &Context<'_>) -> Result<ResourceBag, String> {
    let id = task.task_id.value.as_str();
    if id.is_empty() || id.contains('/') || id.chars().any(char::is_whitespace) {
        return Err(format!(
            "task id '{id}' is invalid: it must be non-empty, without '/' or whitespace"
        ));
    }
    if cx.seen.contains(id) {
        return Err(format!(
            "task id '{id}' appears more than once in this ACCEPT"
        ));
    }
    if (cx.known_task)(id) {
        return Err(format!(
            "task id '{id}' is already in use by another task of this framework"
        ));
    }
    if task.agent_id.value != cx.agent_id {
        return Err(format!(
            "task '{id}' names agent '{}' but its offers are for agent '{}'",
            task.agent_id.value, cx.agent_id
        ));
    }
    match (&task.command, &task.executor) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(format!(
                "task '{id}' must have exactly one of 'command' or 'executor'"
            ));
        }
        (Some(command), None) => check_command(command, &format!("task '{id}'"))?,
        (None, Some(executor)) => {
            let whose = format!("executor '{}' of task '{id}'", executor.executor_id.value);
            if executor.executor_id.value.is_empty() {
                return Err(format!(
                    "task '{id}' has an executor with an empty executor id"
                ));
            }
            let command = executor
                .command
                .as_ref()
                .ok_or_else(|| format!("{whose} has no 'command'"))?;
            check_command(command, &whose)?;
        }
    }
    let own = parse_resources(&task.resources, &format!("task '{id}'"))?;
    let own_bag = ResourceBag::new(&own);
    for needed in ["cpus", "mem"] {
        if own_bag.scalar(needed) <= 0.0 {
            return Err(format!("task '{id}' needs a positive '{needed}' resource"));
        }
    }
    let mut total = own_bag;
    if let Some(executor) = &task.executor {
        let whose = format!("executor '{}' of task '{id}'", executor.executor_id.value);
        total.add(&ResourceBag::new(&parse_resources(
            &executor.resources,
            &whose,
        )?));
    }
    if !cx.remaining.contains(&total) {
        return Err(format!(
            "task '{id}' uses resources {} that are not in the offers (remaining: {})",
            format_resources(&total.to_list()),
            format_resources(&cx.remaining.to_list())
        ));
    }
    Ok(total)
}

fn check_command(command: &v1::CommandInfo, whose: &str) -> Result<(), String> {
    let shell = command.shell.unwrap_or(true);
    match &command.value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ if shell => Err(format!("{whose} has a shell command without a 'value'")),
        _ => Err(format!(
            "{whose} has a command without a 'value' (the program to run)"
        )),
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

    fn check(t: &v1::TaskInfo) -> Result<ResourceBag, String> {
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
            (task("", 0.1, 10.0), "task id '' is invalid: it must be non-empty, without '/' or whitespace"),
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
            assert_eq!(check(&t).unwrap_err(), expected);
        }
    }
}
