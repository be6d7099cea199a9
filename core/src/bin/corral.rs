use std::process::ExitCode;

use clap::Parser;
use corral::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // The launch helper unshares namespaces and forks: it must stay
    // single-threaded, so it runs before the runtime and logging exist.
    if matches!(cli.command, Command::ContainerLaunch) {
        return Ok(corral::containerizer::launch_helper::run());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CORRAL_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    let ok = runtime.block_on(corral::cli::run(
        cli,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
