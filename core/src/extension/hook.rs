use super::ModuleCallError;
use crate::domain::{ExecutorView, KeyValue, TaskView};

/// What a hook does to a list of labels or variables (module-api's
/// `Decoration`): replace it first, when `replace` is set; then remove the
/// entries with the keys in `remove`; then set each of `set`, replacing the
/// entries with its key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoration {
    pub replace: Option<Vec<KeyValue>>,
    pub remove: Vec<String>,
    pub set: Vec<KeyValue>,
}

impl Decoration {
    /// Applies this decoration to `list`.
    pub fn apply(self, list: &mut Vec<KeyValue>) {
        if let Some(replacement) = self.replace {
            *list = replacement;
        }
        list.retain(|kv| {
            !self.remove.iter().any(|k| k == &kv.key) && !self.set.iter().any(|s| s.key == kv.key)
        });
        list.extend(self.set);
    }
}

/// A hook (see `corral_module_api::hook::Hook`); each decorator answers
/// with a [`Decoration`] that `Hooks` applies in order.
pub trait HookPlugin: Send + Sync {
    fn name(&self) -> &str;
    fn master_launch_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Decoration, ModuleCallError>;
    fn agent_run_task_label_decorator(
        &self,
        task: &TaskView,
    ) -> Result<Decoration, ModuleCallError>;
    fn executor_environment_decorator(
        &self,
        executor: &ExecutorView,
    ) -> Result<Decoration, ModuleCallError>;
    fn remove_executor_hook(&self, executor: &ExecutorView) -> Result<(), ModuleCallError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs.iter().map(|(k, v)| KeyValue::new(k, v)).collect()
    }

    #[test]
    fn two_hooks_that_only_set_their_own_entries_both_arrive() {
        let mut labels = list(&[("framework", "x")]);
        Decoration {
            set: list(&[("team", "infra")]),
            ..Decoration::default()
        }
        .apply(&mut labels);
        Decoration {
            set: list(&[("tier", "web")]),
            ..Decoration::default()
        }
        .apply(&mut labels);
        assert_eq!(
            labels,
            list(&[("framework", "x"), ("team", "infra"), ("tier", "web")])
        );
    }

    #[test]
    fn set_replaces_its_key_remove_removes_and_a_replacement_replaces() {
        let mut env = list(&[("A", "1"), ("B", "2"), ("C", "3")]);
        Decoration {
            remove: vec!["C".into()],
            set: list(&[("A", "9")]),
            ..Decoration::default()
        }
        .apply(&mut env);
        assert_eq!(env, list(&[("B", "2"), ("A", "9")]));
        // A 1.0 hook's `RSome(list)`: the list is replaced, as before.
        Decoration {
            replace: Some(list(&[("only", "me")])),
            ..Decoration::default()
        }
        .apply(&mut env);
        assert_eq!(env, list(&[("only", "me")]));
        Decoration::default().apply(&mut env);
        assert_eq!(
            env,
            list(&[("only", "me")]),
            "an empty decoration changes nothing"
        );
    }
}
