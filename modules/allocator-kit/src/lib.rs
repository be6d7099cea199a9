//! The allocator toolkit: everything an allocator module must keep track
//! of, so that writing one is writing a [`Policy`].
//!
//! The kit holds agents, frameworks (with their names, roles and
//! capabilities), what each framework holds on each agent, decline filters
//! with their timeouts, SUPPRESS and REVIVE, the minimum worth offering,
//! and the resource arithmetic ([`Resources`]: scalars, ranges and sets by
//! name and role). It runs the allocation round: agents in turn, each
//! offered to the frameworks that take offers in the policy's order, with
//! what their decline filters hide skipped, and agents that nobody wanted
//! last round, with nothing changed since, not looked at again. A policy
//! decides only the order ([`Policy::order`]) and, if it wants, what each
//! framework is offered ([`Policy::choose`]).
//!
//! ```ignore
//! use corral_allocator_kit::{Framework, Kit, Params, Policy};
//!
//! struct ByName;
//! impl Policy for ByName {
//!     fn new(_: &Params, _: &corral_module_api::Host) -> Result<Self, corral_module_api::ModuleError> {
//!         Ok(ByName)
//!     }
//!     fn order(&mut self, _: &corral_allocator_kit::Cluster<'_>, frameworks: &mut [&Framework]) {
//!         frameworks.sort_by(|a, b| a.name().cmp(b.name()));
//!     }
//! }
//! corral_module_api::export_modules![corral_module_api::guest::allocator::<Kit<ByName>>(
//!     "org_example_allocator_byname",
//!     "offers agents to frameworks in the order of their names",
//! )];
//! ```
//!
//! [`testing::FakeHost`] drives any allocator module as the master would,
//! checking what it offers, so a policy can be unit-tested without a
//! cluster.

mod book;
mod module;
mod policy;
mod resources;
mod round;
pub mod testing;
#[cfg(test)]
mod tests;
mod verdicts;

pub use book::{Agent, Book, BookError, Framework, NewFramework};
pub use corral_module_api::guest::Params;
pub use module::Kit;
pub use policy::{Choice, Cluster, Event, Policy};
pub use resources::Resources;
pub use round::{Grant, Minimum};
