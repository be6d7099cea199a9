//! `org_corral_allocator_lua`: an allocator whose policy is a Lua 5.4
//! script, changed while the master runs. The allocator kit keeps the books
//! (agents, frameworks, filters, suppress/revive, what is offered and used,
//! resource arithmetic, the quiet-agent shortcut) and validates every
//! answer; the script only decides order and what to offer. See
//! docs/lua-allocator.md.
//!
//! Parameters: `script` (a path, relative to the manifest), `reload`
//! (default true), `instruction_limit` (per round, default 10,000,000),
//! `memory_limit` (MiB, default 64), and the kit's `min_allocatable_cpus`
//! and `min_allocatable_mem`.

mod policy;
mod script;
mod views;

use corral_allocator_kit::Kit;
use corral_module_api::guest;

pub use policy::{LuaPolicy, MODULE};

/// The module: the script's policy on the kit.
pub type LuaAllocator = Kit<LuaPolicy>;

corral_module_api::export_modules![guest::allocator::<LuaAllocator>(
    MODULE,
    "allocation policy written in Lua, reloaded when the script changes",
)];

#[cfg(test)]
mod tests;
