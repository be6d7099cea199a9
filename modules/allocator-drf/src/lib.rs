//! `org_corral_allocator_drf`: Corral's default allocator, hierarchical
//! Dominant Resource Fairness as in Mesos' built-in allocator, written as
//! a policy on the allocator kit (`corral-allocator-kit`), which keeps the
//! books.
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

use corral_allocator_kit::Kit;
use corral_module_api::guest;
pub use corral_module_api::guest::Params;

pub use drf::Drf;

/// The module: the DRF policy on the kit.
pub type DrfAllocator = Kit<Drf>;

corral_module_api::export_modules![guest::allocator::<DrfAllocator>(
    "org_corral_allocator_drf",
    "hierarchical Dominant Resource Fairness across roles and frameworks (Mesos' default)",
)];

#[cfg(test)]
mod tests;
