//! `org_example_allocator_firstfit`: offers each agent's free resources to
//! the frameworks in turn (round-robin), optionally capping the cpus of any
//! one offer. It is a policy on the allocator kit, which keeps the books:
//! decline filters, SUPPRESS and REVIVE, who holds what, the minimum worth
//! offering (`min_allocatable_cpus`, `min_allocatable_mem`), resource
//! arithmetic over scalars, ranges and sets.
//!
//! Parameters:
//! - `max_cpus`: most cpus in one offer; what is left of the agent goes to
//!   the next framework in turn (default: the whole agent in one offer);
//! - the kit's `min_allocatable_cpus` (default 0.01) and
//!   `min_allocatable_mem` (default 32, in MB).

use corral_allocator_kit::{Agent, Choice, Cluster, Framework, Kit, Params, Policy, Resources};
use corral_module_api::{guest, Host, ModuleError, ParamKind, ParamSpec};

corral_module_api::export_modules![guest::allocator::<Kit<FirstFit>>(
    "org_example_allocator_firstfit",
    "example allocator: round-robin first fit, with decline filters and an optional cpu cap",
)];

/// The policy's whole state.
#[derive(Debug, Default)]
pub struct FirstFit {
    /// The framework offered to last: the next offer goes to the one after.
    last: Option<String>,
    max_cpus: Option<f64>,
}

impl Policy for FirstFit {
    /// Agents in the order of their ids, not shuffled.
    const SHUFFLE_AGENTS: bool = false;

    fn parameters() -> Vec<ParamSpec> {
        vec![ParamSpec::new(
            "max_cpus",
            ParamKind::Number,
            "most cpus in one offer (default: the whole agent)",
        )]
    }

    fn new(params: &Params, _host: &Host) -> Result<Self, ModuleError> {
        let max_cpus = params.parse("max_cpus")?;
        tracing::info!(?max_cpus, "first-fit allocator ready");
        Ok(FirstFit {
            last: None,
            max_cpus,
        })
    }

    /// The frameworks arrive sorted by id: start after the latest taker.
    fn order(&mut self, _cluster: &Cluster<'_>, frameworks: &mut [&Framework]) {
        if let Some(last) = &self.last {
            let next = frameworks.iter().position(|f| f.id() > last.as_str());
            frameworks.rotate_left(next.unwrap_or(0));
        }
    }

    fn choose(&mut self, _agent: &Agent, framework: &Framework, offerable: &Resources) -> Choice {
        self.last = Some(framework.id().to_owned());
        match self.max_cpus {
            Some(max) if offerable.scalar("cpus") > max => {
                Choice::Part(offerable.capped("cpus", max))
            }
            _ => Choice::All,
        }
    }
}

#[cfg(test)]
mod tests;
