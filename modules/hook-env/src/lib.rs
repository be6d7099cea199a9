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
    hook::{Decoration, ExecutorView, TaskView},
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

    /// The labels to set and the keys to remove.
    fn label_decoration(&self) -> Decoration {
        Decoration::set(self.labels.iter().cloned()).removing(self.remove_labels.iter().cloned())
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

    // Decorations (module-api 1.1): the host merges them after earlier
    // hooks', so other hooks' labels and variables stay.
    fn master_launch_task_label_decoration(
        &self,
        _task: &TaskView,
    ) -> Result<Decoration, ModuleError> {
        Ok(self.label_decoration())
    }

    fn agent_run_task_label_decoration(&self, _task: &TaskView) -> Result<Decoration, ModuleError> {
        Ok(self.label_decoration())
    }

    fn executor_environment_decoration(
        &self,
        _executor: &ExecutorView,
    ) -> Result<Decoration, ModuleError> {
        Ok(Decoration::set(self.environment.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_module_api::{RNone, RString};

    fn hook(entries: &[(&str, &str)]) -> Result<EnvHook, ModuleError> {
        EnvHook::from_params(&Params::new(
            entries.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    fn keys(list: &[KeyValue]) -> Vec<String> {
        list.iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect()
    }

    #[test]
    fn labels_are_set_and_removed_by_key() {
        let h = hook(&[
            ("labels", "team=infra, tier=web"),
            ("remove_labels", "secret"),
        ])
        .unwrap();
        let d = h.label_decoration();
        assert_eq!(keys(&d.set), ["team=infra", "tier=web"]);
        assert_eq!(d.remove, [RString::from("secret")]);
        assert_eq!(d.replace, RNone, "earlier hooks' labels stay");
    }

    #[test]
    fn a_hook_without_label_parameters_leaves_labels_alone() {
        let h = hook(&[("environment", "A=1")]).unwrap();
        assert_eq!(h.label_decoration(), Decoration::unchanged());
        let env = h
            .executor_environment_decoration(&corral_module_api::guest::testing::executor_view(
                "e", None,
            ))
            .unwrap();
        assert_eq!(keys(&env.set), ["A=1"]);
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
