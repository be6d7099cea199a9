//! The `corral` command: argument definitions and subcommands. Each command
//! writes its report to the writers it is given and returns the process's
//! success, so tests can run them in-process.

use std::{io::Write, path::PathBuf};

use clap::{Parser, Subcommand};

use crate::{
    config::LoadedConfig,
    module_host::{self, LoadError, ModuleRegistry, MODULE_API_VERSION},
};

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
    /// Run master and agent in one process (all-in-one mode).
    Local {
        /// Configuration file; the embedded config/local.toml when omitted.
        #[arg(long, env = "CORRAL_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Inspect module libraries.
    Modules {
        #[command(subcommand)]
        command: ModulesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModulesCommand {
    /// List the modules a manifest loads.
    List {
        /// The module manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Load every library, create every module, and report all problems;
    /// with --config, also check the modules that configuration selects.
    Check {
        #[arg(long)]
        manifest: PathBuf,
        /// A daemon configuration whose [modules] selection to check.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<bool> {
    match cli.command {
        Command::Local { config } => local(config, out, err),
        Command::Modules {
            command: ModulesCommand::List { manifest },
        } => {
            let (registry, errors) = module_host::load_manifest(&manifest);
            print_modules(&registry, out)?;
            report(&errors, err)
        }
        Command::Modules {
            command: ModulesCommand::Check { manifest, config },
        } => {
            let (registry, mut errors) = module_host::load_manifest(&manifest);
            errors.extend(registry.check_constructors());
            if let Some(path) = config {
                match LoadedConfig::load(Some(&path)) {
                    Ok(loaded) => {
                        if let Err(e) = registry.instantiate(&loaded.selection()) {
                            errors.extend(e.0);
                        }
                    }
                    Err(e) => writeln!(err, "error: {e}")?,
                }
            }
            if errors.is_empty() {
                let libraries: std::collections::BTreeSet<_> =
                    registry.modules().iter().map(|m| &m.library).collect();
                writeln!(
                    out,
                    "ok: {} modules from {} libraries loaded and created (module-api {MODULE_API_VERSION})",
                    registry.modules().len(),
                    libraries.len()
                )?;
            }
            report(&errors, err)
        }
    }
}

fn local(
    config: Option<PathBuf>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let loaded = match LoadedConfig::load(config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(false);
        }
    };
    let (registry, errors) = loaded.load_modules();
    if !report(&errors, err)? {
        return Ok(false);
    }
    match registry.instantiate(&loaded.selection()) {
        Ok(instances) => {
            writeln!(
                out,
                "corral local: configuration {}",
                loaded.source.display()
            )?;
            writeln!(out, "loaded modules:")?;
            print_modules(&registry, out)?;
            writeln!(
                out,
                "active: allocator {}, isolators [{}], hooks [{}]",
                instances.allocator.as_ref().map_or("(none)", |a| a.name()),
                instances
                    .isolators
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                instances
                    .hooks
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            )?;
            writeln!(
                out,
                "the master and agent are not part of this build yet; exiting"
            )?;
            Ok(true)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(false)
        }
    }
}

fn print_modules(registry: &ModuleRegistry, out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = registry
        .modules()
        .iter()
        .map(|m| {
            [
                m.name.clone(),
                m.kind.to_string(),
                m.library.display().to_string(),
                m.api_version.clone(),
                m.description.clone(),
            ]
        })
        .collect();
    let header = ["MODULE", "KIND", "LIBRARY", "MODULE-API", "DESCRIPTION"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )?;
    }
    Ok(())
}

/// Prints every error; `Ok(true)` when there were none.
fn report(errors: &[LoadError], err: &mut dyn Write) -> std::io::Result<bool> {
    if !errors.is_empty() {
        writeln!(err, "{}", module_host::LoadErrors(errors.to_vec()))?;
    }
    Ok(errors.is_empty())
}
