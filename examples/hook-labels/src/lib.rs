//! A third-party hook: every task launched gets the label `team=<team>`
//! (unless it has a `team` label already)
//! (on the master, so it shows in `/master/state`), and every executor the
//! variable `TEAM=<team>` plus `TASK_COMMAND_USER`, the user its command
//! names (read from the task's protobuf bytes through `guest::views`).

use corral_module_api::{
    guest::{self, views::ExecutorDetails, HookModule, Params},
    hook::{Decoration, ExecutorView, TaskView},
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

    // Decorations: Corral merges what each hook sets after the hooks
    // before it, so only our own entries are named here.
    fn master_launch_task_label_decoration(
        &self,
        task: &TaskView,
    ) -> Result<Decoration, ModuleError> {
        if lookup(&task.labels, "team").is_some() {
            return Ok(Decoration::unchanged()); // the framework chose one: keep it
        }
        Ok(Decoration::set([KeyValue::new("team", &self.team)]))
    }

    fn executor_environment_decoration(
        &self,
        executor: &ExecutorView,
    ) -> Result<Decoration, ModuleError> {
        let details = ExecutorDetails::decode(&executor.executor_info)
            .map_err(|e| ModuleError::failed(e.to_string()))?;
        let user = details
            .command
            .and_then(|c| c.user)
            .unwrap_or_else(|| "(none)".to_owned());
        Ok(Decoration::set(key_values([
            ("TEAM", self.team.as_str()),
            ("TASK_COMMAND_USER", user.as_str()),
        ])))
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
        let decoration = hook.master_launch_task_label_decoration(&task).unwrap();
        assert_eq!(decoration.set.as_slice(), [KeyValue::new("team", "infra")]);
        assert!(decoration.replace.is_none() && decoration.remove.is_empty());
        let chosen = testing::task_view("t-2", &[("team", "web")]);
        assert_eq!(
            hook.master_launch_task_label_decoration(&chosen).unwrap(),
            Decoration::unchanged()
        );
    }

    #[test]
    fn executors_get_the_team_and_the_commands_user() {
        let hook = testing::hook::<TeamLabels>(&[("team", "infra")]).unwrap();
        let executor = testing::executor_view("e-1", Some("alice"));
        let environment = hook.executor_environment_decoration(&executor).unwrap().set;
        assert_eq!(lookup(&environment, "TEAM"), Some("infra"));
        assert_eq!(lookup(&environment, "TASK_COMMAND_USER"), Some("alice"));
    }
}
