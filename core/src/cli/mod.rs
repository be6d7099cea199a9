//! The `corral` command: argument definitions and subcommands. Commands
//! write reports to the writers they are given and return whether they
//! succeeded, so tests can run them in-process.

mod daemons;
mod execute;
mod modules_cmd;
mod sandbox;

use std::{io::Write, path::PathBuf};

use clap::{Parser, Subcommand};

pub use modules_cmd::ModulesCommand;

#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    about = "A cluster manager in the line of Apache Mesos"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a master and an agent in one process (all-in-one mode).
    Local {
        /// Configuration file; the embedded config/local.toml when omitted.
        #[arg(long, env = "CORRAL_CONFIG")]
        config: Option<PathBuf>,
        /// The master's port (the agent picks a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Where sandboxes live.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Run a master.
    Master {
        #[arg(long, env = "CORRAL_CONFIG")]
        config: Option<PathBuf>,
        /// The address to listen on.
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        port: Option<u16>,
    },
    /// Run an agent.
    Agent {
        #[arg(long, env = "CORRAL_CONFIG")]
        config: Option<PathBuf>,
        /// `host:port` of the master.
        #[arg(long)]
        master: Option<String>,
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Resources replacing detected ones, e.g. "cpus:2;mem:1024".
        #[arg(long)]
        resources: Option<String>,
    },
    /// Launch one task and follow it, like mesos-execute.
    Execute {
        /// `host:port` of the master.
        #[arg(long)]
        master: String,
        /// The shell command to run.
        #[arg(long)]
        command: String,
        #[arg(long, default_value = "cpus:0.1;mem:32")]
        resources: String,
        /// The task's name.
        #[arg(long, default_value = "corral-execute")]
        name: String,
    },
    /// Inspect module libraries.
    Modules {
        #[command(subcommand)]
        command: ModulesCommand,
    },
    /// The command executor (started by agents, not by hand).
    #[command(hide = true)]
    Executor,
    /// The launch helper of a container (started by agents, not by hand;
    /// run synchronously by the binary, before any runtime exists).
    #[command(hide = true)]
    ContainerLaunch,
}

/// Runs a parsed command line.
pub async fn run(
    cli: Cli,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> std::io::Result<bool> {
    match cli.command {
        Command::Local {
            config,
            port,
            work_dir,
        } => daemons::local(config, port, work_dir, out, err).await,
        Command::Master { config, ip, port } => daemons::master(config, ip, port, err).await,
        Command::Agent {
            config,
            master,
            ip,
            port,
            work_dir,
            resources,
        } => {
            daemons::agent(
                config,
                daemons::AgentFlags {
                    master,
                    ip,
                    port,
                    work_dir,
                    resources,
                },
                err,
            )
            .await
        }
        Command::Execute {
            master,
            command,
            resources,
            name,
        } => execute::run(&master, &command, &resources, &name, out, err).await,
        Command::Modules { command } => modules_cmd::run(command, out, err),
        Command::ContainerLaunch => {
            writeln!(
                err,
                "corral container-launch must run before any async runtime starts"
            )?;
            Ok(false)
        }
        Command::Executor => match crate::executor::run().await {
            Ok(()) => Ok(true),
            Err(e) => {
                writeln!(err, "corral executor: {e}")?;
                Ok(false)
            }
        },
    }
}
