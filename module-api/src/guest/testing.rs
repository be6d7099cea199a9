//! Test helpers for module authors: build your module the way the host
//! does (declared parameters checked, defaults filled in) and call it
//! in-process, with the inputs the host would pass, no cluster needed.
//!
//! ```
//! # use corral_module_api::{guest::{testing, HookModule, Params}, Host, ModuleError};
//! # struct Mine;
//! # impl HookModule for Mine {
//! #     fn new(_: &Params, _: &Host) -> Result<Self, ModuleError> { Ok(Mine) }
//! # }
//! let hook = testing::hook::<Mine>(&[]).unwrap();
//! let labels = hook.master_launch_task_label_decorator(&testing::task_view("t-1", &[("a", "b")]));
//! # let _ = labels;
//! ```

use std::path::{Path, PathBuf};

use prost::Message;

use super::{null_host, views::wire, AllocatorModule, HookModule, IsolatorModule, Params};
use crate::{
    error::ModuleError,
    hook::{ExecutorView, TaskView},
    isolator::ContainerConfig,
    parameters::{check, ParamSpec},
    types::KeyValue,
};

/// The parameters a module's constructor gets for `given`: checked
/// against what `declared` says (when `Some`), defaults filled in.
fn params(declared: Option<Vec<ParamSpec>>, given: &[(&str, &str)]) -> Result<Params, ModuleError> {
    let given: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let checked = match declared {
        Some(declared) => check(&declared, &given).map_err(ModuleError::invalid_parameters)?,
        None => given,
    };
    Ok(Params::new(checked))
}

/// A hook built from `given` parameters as the host would build it.
pub fn hook<T: HookModule>(given: &[(&str, &str)]) -> Result<T, ModuleError> {
    T::new(&params(T::parameters(), given)?, &null_host())
}

/// An isolator built from `given` parameters as the host would build it.
pub fn isolator<T: IsolatorModule>(given: &[(&str, &str)]) -> Result<T, ModuleError> {
    T::new(&params(T::parameters(), given)?, &null_host())
}

/// An allocator built from `given` parameters as the host would build it.
pub fn allocator<T: AllocatorModule>(given: &[(&str, &str)]) -> Result<T, ModuleError> {
    T::new(&params(T::parameters(), given)?, &null_host())
}

/// A task as a label decorator sees it: framework `F`, agent `A`, the
/// given labels, and `task_info` bytes with the same id and labels.
pub fn task_view(task_id: &str, labels: &[(&str, &str)]) -> TaskView {
    let labels: Vec<KeyValue> = labels.iter().map(|&(k, v)| KeyValue::new(k, v)).collect();
    let info = wire::TaskInfo {
        name: Some(task_id.to_owned()),
        task_id: Some(wire::Id {
            value: task_id.to_owned(),
        }),
        agent_id: Some(wire::Id { value: "A".into() }),
        labels: Some(wire::Labels {
            labels: labels
                .iter()
                .map(|kv| wire::Label {
                    key: kv.key.to_string(),
                    value: Some(kv.value.to_string()),
                })
                .collect(),
        }),
        ..Default::default()
    };
    TaskView {
        task_id: task_id.into(),
        name: task_id.into(),
        framework_id: "F".into(),
        agent_id: "A".into(),
        labels: labels.into(),
        task_info: info.encode_to_vec().into(),
    }
}

/// An executor as the environment decorator sees it: no environment yet,
/// `executor_info` bytes with the id and a command that names `user`.
pub fn executor_view(executor_id: &str, user: Option<&str>) -> ExecutorView {
    let info = wire::ExecutorInfo {
        executor_id: Some(wire::Id {
            value: executor_id.to_owned(),
        }),
        framework_id: Some(wire::Id { value: "F".into() }),
        command: Some(wire::CommandInfo {
            value: Some("true".into()),
            user: user.map(str::to_owned),
            ..Default::default()
        }),
        ..Default::default()
    };
    ExecutorView {
        executor_id: executor_id.into(),
        framework_id: "F".into(),
        agent_id: "A".into(),
        environment: Default::default(),
        executor_info: info.encode_to_vec().into(),
    }
}

/// A sandbox directory of its own (removed when dropped), and the
/// `ContainerConfig`s an isolator gets for containers in it: absolute and
/// existing, as the agent promises during `prepare`.
#[derive(Debug)]
pub struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "corral-module-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary sandbox");
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The config of container `container_id` (framework `F`, executor
    /// `E`) in this sandbox, with no resources or volumes.
    pub fn container(&self, container_id: &str) -> ContainerConfig {
        ContainerConfig {
            container_id: container_id.into(),
            framework_id: "F".into(),
            executor_id: "E".into(),
            sandbox: self.dir.display().to_string().into(),
            user: Default::default(),
            resources: Default::default(),
            volumes: Default::default(),
            executor_info: Default::default(),
        }
    }

    /// The text of `name` in the sandbox (panics naming it when missing).
    pub fn read(&self, name: &str) -> String {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} in the sandbox: {e}", path.display()))
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
