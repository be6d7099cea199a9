//! `corral-bench`: Corral's benchmarks against Mesos' published numbers
//! (issue 7). Each subcommand prints a table of medians, the comparison it
//! is about measured in the same run, and the target. See
//! docs/performance.md for the commands and results.

mod allocator;
mod control_plane;
mod ha_failover;
mod launch;
mod lua_allocator;
mod module_call;
mod modules;
mod operator_events;
mod process;
mod progress;
mod reconcile;
mod scheduler;
mod sim_agent;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "corral-bench", about = "Corral benchmarks (issue 7)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// DRF allocator, Mesos' DeclineOffers and AddAndUpdateSlave: cdylib vs in-process.
    Allocator(allocator::Args),
    /// The Lua allocator running drf.lua vs the native DRF module, both as cdylibs.
    LuaAllocator(lua_allocator::Args),
    /// A trivial hook call through the module ABI vs a direct call.
    ModuleCall(module_call::Args),
    /// One RECONCILE of N unknown tasks over the HTTP API of an in-process master.
    Reconcile(reconcile::Args),
    /// ACCEPT → TASK_RUNNING and short-task throughput through `corral local`, vs the namespace/exec floor.
    Launch(launch::Args),
    /// A real master with thousands of simulated agents: memory, /master/state, updates/s, failover.
    ControlPlane(control_plane::Args),
    /// Operators following the master's event stream while tasks launch: throughput with and without them.
    OperatorEvents(operator_events::Args),
    /// Three masters on ZooKeeper, the leader killed: time to a new leader, agents back, tasks reconciled; registry writes.
    HaFailover(ha_failover::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Allocator(args) => allocator::run(args),
        Command::LuaAllocator(args) => lua_allocator::run(args),
        Command::ModuleCall(args) => module_call::run(args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Launch(args) => launch::run(args),
        Command::ControlPlane(args) => control_plane::run(args),
        Command::OperatorEvents(args) => operator_events::run(args),
        Command::HaFailover(args) => ha_failover::run(args),
    }
}
