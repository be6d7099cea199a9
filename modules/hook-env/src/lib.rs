//! `org_corral_hook_env`: decorates tasks and executors from its parameters.
//!
//! Parameters (all optional, lists are comma-separated):
//! - `labels = "team=infra,tier=web"`: labels added to every task, at the
//!   master (launch) and again at the agent (run), replacing same-key labels;
//! - `remove_labels = "secret,debug"`: label keys dropped from every task;
//! - `environment = "FOO=bar,REGION=eu"`: variables set for every executor,
//!   replacing same-name variables.

use corral_module_api::{
    guest::{self, HookModule, Params},
    hook::{ExecutorView, TaskView},
    Host, KeyValue, ModuleError, ParamKind, ParamSpec,
};

corral_module_api::export_modules![guest::hook::<EnvHook>(
    "org_corral_hook_env",
    "adds task labels and executor environment variables from its parameters",
)];

/// The hook's configuration, parsed once at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvHook {
    labels: Vec<KeyValue>,
    remove_labels: Vec<String>,
    environment: Vec<KeyValue>,
}

fn pairs(params: &Params, key: &str) -> Result<Vec<KeyValue>, ModuleError> {
    let Some(raw) = params.get(key) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(KeyValue::new(k.trim(), v.trim())),
            _ => Err(ModuleError::invalid_parameters(format!(
                "parameter '{key}': '{item}' is not KEY=VALUE"
            ))),
        })
        .collect()
}

/// Replaces entries with the same key and appends new ones, keeping order.
fn merge(current: &[KeyValue], additions: &[KeyValue], removals: &[String]) -> Vec<KeyValue> {
    let mut merged: Vec<KeyValue> = current
        .iter()
        .filter(|kv| !removals.iter().any(|r| r == kv.key.as_str()))
        .filter(|kv| !additions.iter().any(|a| a.key == kv.key))
        .cloned()
        .collect();
    merged.extend(additions.iter().cloned());
    merged
}

impl EnvHook {
    /// Parses the parameters, naming the first bad one.
    pub fn from_params(params: &Params) -> Result<Self, ModuleError> {
        Ok(EnvHook {
            labels: pairs(params, "labels")?,
            remove_labels: params
                .get("remove_labels")
                .map(|raw| {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            environment: pairs(params, "environment")?,
        })
    }

    fn decorate_labels(&self, task: &TaskView) -> Option<Vec<KeyValue>> {
        if self.labels.is_empty() && self.remove_labels.is_empty() {
            return None;
        }
        Some(merge(&task.labels, &self.labels, &self.remove_labels))
    }
}

impl HookModule for EnvHook {
    fn parameters() -> Option<Vec<ParamSpec>> {
        Some(vec![
            ParamSpec::new(
                "labels",
                ParamKind::Text,
                "labels to add, KEY=VALUE,KEY=VALUE",
            ),
            ParamSpec::new(
                "remove_labels",
                ParamKind::Text,
                "label keys to remove, comma-separated",
            ),
            ParamSpec::new(
                "environment",
                ParamKind::Text,
                "executor variables to add, KEY=VALUE,...",
            ),
        ])
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let hook = Self::from_params(params)?;
        tracing::info!(
            labels = hook.labels.len(),
            remove_labels = hook.remove_labels.len(),
            environment = hook.environment.len(),
            "env hook ready"
        );
        Ok(hook)
    }

    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleError> {
        Ok(self.decorate_labels(task))
    }

    fn agent_run_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleError> {
        Ok(self.decorate_labels(task))
    }

    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<Option<Vec<KeyValue>>, ModuleError> {
        if self.environment.is_empty() {
            return Ok(None);
        }
        Ok(Some(merge(&executor.environment, &self.environment, &[])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::{RString, RVec};

    fn hook(entries: &[(&str, &str)]) -> Result<EnvHook, ModuleError> {
        EnvHook::from_params(&Params::new(
            entries.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    fn task(labels: &[(&str, &str)]) -> TaskView {
        TaskView {
            task_id: RString::from("t1"),
            name: RString::from("t"),
            framework_id: RString::from("f"),
            agent_id: RString::from("a"),
            labels: labels
                .iter()
                .map(|(k, v)| KeyValue::new(*k, *v))
                .collect::<Vec<_>>()
                .into(),
            task_info: RVec::new(),
        }
    }

    #[test]
    fn labels_are_added_replaced_and_removed() {
        let h = hook(&[
            ("labels", "team=infra, tier=web"),
            ("remove_labels", "secret"),
        ])
        .unwrap();
        let out = h
            .decorate_labels(&task(&[("tier", "db"), ("secret", "x"), ("keep", "1")]))
            .unwrap();
        let keys: Vec<_> = out
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        assert_eq!(keys, ["keep=1", "team=infra", "tier=web"]);
    }

    #[test]
    fn a_hook_without_label_parameters_leaves_labels_alone() {
        assert_eq!(
            hook(&[("environment", "A=1")])
                .unwrap()
                .decorate_labels(&task(&[])),
            None
        );
    }

    #[test]
    fn malformed_and_unknown_parameters_are_refused_by_name() {
        let err = hook(&[("labels", "novalue")]).unwrap_err().to_string();
        assert_eq!(err, "parameter 'labels': 'novalue' is not KEY=VALUE");
        // Unknown keys are the host's to refuse: the module declares its own.
        let declared: Vec<String> = EnvHook::parameters()
            .unwrap()
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        assert_eq!(declared, ["labels", "remove_labels", "environment"]);
    }
}
