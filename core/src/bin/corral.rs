use std::process::ExitCode;

use clap::Parser;
use corral::cli::{Cli, Command};

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // The launch helper unshares namespaces and forks: it must stay
    // single-threaded, so it runs before the runtime and logging exist.
    if matches!(cli.command, Command::ContainerLaunch) {
        return Ok(corral::containerizer::launch_helper::run());
    }
    // --log-level/--log-format, else CORRAL_LOG/CORRAL_LOG_FORMAT; to stderr.
    let logging = cli
        .log_settings(|var| std::env::var(var).ok())
        .and_then(|settings| corral::cli::init_logging(&settings));
    if let Err(e) = logging {
        eprintln!("error: {e}");
        return Ok(ExitCode::FAILURE);
    }
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
