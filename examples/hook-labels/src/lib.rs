//! A third-party hook: every task launched gets the label `team=<team>`
//! (on the master, so it shows in `/master/state`), and every executor the
//! variable `TEAM=<team>` plus `TASK_COMMAND_USER`, the user its command
//! names (read from the task's protobuf bytes through `guest::views`).

use corral_module_api::{
    guest::{self, views::ExecutorDetails, HookModule, Params},
    hook::{ExecutorView, TaskView},
    types::{key_values, lookup},
    Host, KeyValue, ModuleError, ParamKind, ParamSpec,
};

corral_module_api::export_modules![guest::hook::<TeamLabels>(
    "org_example_hook_labels",
    "example hook: labels tasks team=<team> and sets TEAM in executors"
)];

/// The hook's whole state: its parameters.
#[derive(Debug)]
pub struct TeamLabels {
    team: String,
}

impl HookModule for TeamLabels {
    fn parameters() -> Option<Vec<ParamSpec>> {
        Some(vec![ParamSpec::new(
            "team",
            ParamKind::Text,
            "the team every task is labelled with",
        )
        .default_value("unknown")])
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        // The host checked the keys and filled in the default.
        let team = params.require("team")?.to_owned();
        Ok(TeamLabels { team })
    }

    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleError> {
        if lookup(&task.labels, "team").is_some() {
            return Ok(None); // the framework chose one: keep it
        }
        // Return the labels as they were plus ours: earlier hooks' labels
        // stay.
        let mut labels = task.labels.to_vec();
        labels.push(KeyValue::new("team", &self.team));
        Ok(Some(labels))
    }

    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleError> {
        let details = ExecutorDetails::decode(&executor.executor_info)
            .map_err(|e| ModuleError::failed(e.to_string()))?;
        let user = details
            .command
            .and_then(|c| c.user)
            .unwrap_or_else(|| "(none)".to_owned());
        let mut environment = executor.environment.to_vec();
        environment.extend(key_values([
            ("TEAM", self.team.as_str()),
            ("TASK_COMMAND_USER", user.as_str()),
        ]));
        Ok(Some(environment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::guest::testing;

    #[test]
    fn tasks_get_the_team_label_unless_they_have_one() {
        let hook = testing::hook::<TeamLabels>(&[("team", "infra")]).unwrap();
        let task = testing::task_view("t-1", &[("tier", "web")]);
        let labels = hook.master_launch_task_label_decorator(&task).unwrap();
        assert_eq!(
            labels,
            Some(vec![
                KeyValue::new("tier", "web"),
                KeyValue::new("team", "infra")
            ])
        );
        let chosen = testing::task_view("t-2", &[("team", "web")]);
        assert_eq!(
            hook.master_launch_task_label_decorator(&chosen).unwrap(),
            None
        );
    }

    #[test]
    fn executors_get_the_team_and_the_commands_user() {
        let hook = testing::hook::<TeamLabels>(&[("team", "infra")]).unwrap();
        let executor = testing::executor_view("e-1", Some("alice"));
        let environment = hook
            .executor_environment_decorator(&executor)
            .unwrap()
            .unwrap();
        assert_eq!(lookup(&environment, "TEAM"), Some("infra"));
        assert_eq!(lookup(&environment, "TASK_COMMAND_USER"), Some("alice"));
    }
}
