//! The bookkeeping both posix isolators share: which containers exist, the
//! pid whose session they are, and the resources they were given.

use std::{collections::HashMap, fmt, marker::PhantomData, path::Path};

use corral_module_api::{
    guest::{IsolatorModule, Params},
    isolator::{ContainerConfig, ContainerState, LaunchSpec, Statistic},
    Host, ModuleError, Resource,
};

use crate::proc::{session_usage, SessionUsage};

/// What one isolator reports.
pub trait Figures: Send + 'static {
    /// For log lines: `cpu` or `mem`.
    const KIND: &'static str;
    /// The usage figures of a container with `resources` whose session
    /// uses `usage` (`None` before `isolate`).
    fn figures(resources: &[Resource], usage: Option<&SessionUsage>) -> Vec<(&'static str, f64)>;
}

/// A container the isolator was told about.
#[derive(Debug, Clone, Default)]
struct Container {
    /// The container's first process; its session holds the container.
    pid: Option<u32>,
    resources: Vec<Resource>,
}

/// A posix isolator: no isolation, usage of the container's session.
pub struct PosixIsolator<F> {
    containers: HashMap<String, Container>,
    figures: PhantomData<fn() -> F>,
}

impl<F: Figures> fmt::Debug for PosixIsolator<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PosixIsolator")
            .field("kind", &F::KIND)
            .field("containers", &self.containers)
            .finish()
    }
}

/// The sum of the scalar resources called `name`, `None` when there is none.
pub use corral_module_api::types::scalar_sum as scalar;

impl<F: Figures> PosixIsolator<F> {
    fn container(&mut self, container_id: &str) -> Result<&mut Container, ModuleError> {
        self.containers
            .get_mut(container_id)
            .ok_or_else(|| ModuleError::failed(format!("unknown container '{container_id}'")))
    }
}

impl<F: Figures> IsolatorModule for PosixIsolator<F> {
    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        params.reject_unknown(&[])?;
        tracing::info!(kind = F::KIND, "posix isolator ready");
        Ok(PosixIsolator {
            containers: HashMap::new(),
            figures: PhantomData,
        })
    }

    /// Keeps the surviving containers (their resources are unknown until
    /// the next update) and forgets the rest.
    fn recover(&mut self, containers: Vec<ContainerState>) -> Result<(), ModuleError> {
        let previous = std::mem::take(&mut self.containers);
        self.containers = containers
            .into_iter()
            .map(|state| {
                let id = state.container_id.into_string();
                let resources = previous
                    .get(&id)
                    .map(|c| c.resources.clone())
                    .unwrap_or_default();
                let container = Container {
                    pid: Some(state.pid),
                    resources,
                };
                (id, container)
            })
            .collect();
        Ok(())
    }

    fn prepare(&mut self, config: &ContainerConfig) -> Result<LaunchSpec, ModuleError> {
        let id = config.container_id.as_str();
        if self.containers.contains_key(id) {
            return Err(ModuleError::failed(format!(
                "container '{id}' is already prepared"
            )));
        }
        self.containers.insert(
            id.to_owned(),
            Container {
                pid: None,
                resources: config.resources.to_vec(),
            },
        );
        Ok(LaunchSpec::default())
    }

    fn isolate(&mut self, container_id: &str, pid: u32) -> Result<(), ModuleError> {
        self.container(container_id)?.pid = Some(pid);
        Ok(())
    }

    fn update(&mut self, container_id: &str, resources: Vec<Resource>) -> Result<(), ModuleError> {
        self.container(container_id)?.resources = resources;
        Ok(())
    }

    fn usage(&mut self, container_id: &str) -> Result<Vec<Statistic>, ModuleError> {
        let container = self.container(container_id)?;
        let usage = match container.pid {
            Some(pid) => Some(session_usage(Path::new("/proc"), pid).map_err(|e| {
                ModuleError::failed(format!(
                    "cannot read /proc for the session of pid {pid} (container '{container_id}')"
                ))
                .with_cause(e)
            })?),
            None => None,
        };
        Ok(F::figures(&container.resources, usage.as_ref())
            .into_iter()
            .map(|(name, value)| Statistic {
                name: name.into(),
                value,
            })
            .collect())
    }

    fn cleanup(&mut self, container_id: &str) -> Result<(), ModuleError> {
        self.containers.remove(container_id);
        Ok(())
    }
}
