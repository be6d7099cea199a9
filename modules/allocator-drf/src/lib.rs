//! `org_corral_allocator_drf`: Corral's default allocator, hierarchical
//! Dominant Resource Fairness as in Mesos' built-in allocator.
//!
//! Parameters (all optional):
//! - `weights = "web=2,batch=0.5"`: role weights (default 1); a role's share
//!   is divided by its weight, so a weight-2 role gets twice the resources;
//! - `min_allocatable_cpus` (default 0.01) and `min_allocatable_mem` (default
//!   32, MB): an agent is offered only when at least one of them is free.
//!
//! Behaviour: resources offered count as allocated until they come back
//! (declined, unused, task ended); a decline with `refuse_seconds` keeps the
//! agent's resources from that framework until the filter expires or the
//! framework revives; suppressed frameworks get no offers until they revive.

mod drf;
mod resources;
mod verdicts;

use std::collections::BTreeMap;

use corral_module_api::{
    allocator::{AgentEntry, Allocation, FrameworkEntry, Recovered},
    guest::{self, AllocatorModule, Params},
    Host, ModuleError, ParamKind, ParamSpec, RString, Resource,
};

pub use drf::{Drf, Grant};
pub use resources::Resources;

corral_module_api::export_modules![guest::allocator::<DrfAllocator>(
    "org_corral_allocator_drf",
    "hierarchical Dominant Resource Fairness across roles and frameworks (Mesos' default)",
)];

/// The module: DRF state behind the module-api allocator interface.
#[derive(Debug)]
pub struct DrfAllocator {
    drf: Drf,
}

fn weights(params: &Params) -> Result<BTreeMap<String, f64>, ModuleError> {
    let Some(raw) = params.get("weights") else {
        return Ok(BTreeMap::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let bad = || {
                ModuleError::invalid_parameters(format!(
                    "parameter 'weights': '{item}' is not ROLE=WEIGHT with a positive weight"
                ))
            };
            let (role, weight) = item.split_once('=').ok_or_else(bad)?;
            let weight: f64 = weight.trim().parse().map_err(|_| bad())?;
            if !(weight > 0.0 && weight.is_finite()) {
                return Err(bad());
            }
            Ok((role.trim().to_owned(), weight))
        })
        .collect()
}

impl DrfAllocator {
    pub fn from_params(params: &Params) -> Result<Self, ModuleError> {
        Ok(DrfAllocator {
            drf: Drf::new(
                weights(params)?,
                params.parse("min_allocatable_cpus")?.unwrap_or(0.01),
                params.parse("min_allocatable_mem")?.unwrap_or(32.0),
            ),
        })
    }
}

fn failed(e: drf::DrfError) -> ModuleError {
    ModuleError::failed(e.to_string())
}

impl AllocatorModule for DrfAllocator {
    fn parameters() -> Option<Vec<ParamSpec>> {
        Some(vec![
            ParamSpec::new(
                "weights",
                ParamKind::Text,
                "role weights, ROLE=WEIGHT,ROLE=WEIGHT",
            ),
            ParamSpec::new(
                "min_allocatable_cpus",
                ParamKind::Number,
                "smallest cpus worth offering",
            ),
            ParamSpec::new(
                "min_allocatable_mem",
                ParamKind::Number,
                "smallest mem (MiB) worth offering",
            ),
        ])
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let allocator = Self::from_params(params)?;
        tracing::info!("DRF allocator ready");
        Ok(allocator)
    }

    fn add_framework(&mut self, f: &FrameworkEntry) -> Result<(), ModuleError> {
        self.drf.add_framework(&f.id, &f.role, f.active);
        Ok(())
    }

    fn remove_framework(&mut self, id: &str) -> Result<(), ModuleError> {
        self.drf.remove_framework(id);
        Ok(())
    }

    fn set_framework_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.drf.set_framework_active(id, active).map_err(failed)
    }

    fn add_agent(&mut self, a: &AgentEntry) -> Result<(), ModuleError> {
        let used = a
            .used
            .iter()
            .map(|u| {
                (
                    u.framework_id.to_string(),
                    Resources::from_api(&u.resources),
                )
            })
            .collect();
        self.drf
            .add_agent(&a.id, Resources::from_api(&a.total), used, a.active);
        Ok(())
    }

    fn update_agent(&mut self, id: &str, total: Vec<Resource>) -> Result<(), ModuleError> {
        self.drf
            .update_agent(id, Resources::from_api(&total))
            .map_err(failed)
    }

    fn remove_agent(&mut self, id: &str) -> Result<(), ModuleError> {
        self.drf.remove_agent(id);
        Ok(())
    }

    fn set_agent_active(&mut self, id: &str, active: bool) -> Result<(), ModuleError> {
        self.drf.set_agent_active(id, active).map_err(failed)
    }

    fn recover_resources(&mut self, r: &Recovered, now_ms: u64) -> Result<(), ModuleError> {
        self.drf.recover(
            &r.allocation.framework_id,
            &r.allocation.agent_id,
            &Resources::from_api(&r.allocation.resources),
            r.refuse_seconds.into_option(),
            now_ms,
        );
        Ok(())
    }

    fn revive_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        self.drf.revive(id).map_err(failed)
    }

    fn suppress_offers(&mut self, id: &str) -> Result<(), ModuleError> {
        self.drf.suppress(id).map_err(failed)
    }

    fn allocate(&mut self, now_ms: u64) -> Result<Vec<Allocation>, ModuleError> {
        Ok(self
            .drf
            .allocate(now_ms)
            .into_iter()
            .map(|g| Allocation {
                framework_id: RString::from(g.framework_id),
                agent_id: RString::from(g.agent_id),
                resources: g.resources.to_api().into(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
