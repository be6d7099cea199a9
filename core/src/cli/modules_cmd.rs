//! `corral modules list|check`: what a manifest loads, and every problem.

use std::{io::Write, path::PathBuf};

use clap::Subcommand;

use crate::{
    config::LoadedConfig,
    module_host::{self, LoadError, ModuleRegistry, MODULE_API_VERSION},
};

#[derive(Debug, Subcommand)]
pub enum ModulesCommand {
    /// List the modules a manifest loads.
    List {
        /// The module manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Also print each module's declared parameters (name, type,
        /// default, description) and the values the manifest gives.
        #[arg(long, short)]
        verbose: bool,
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

/// `corral modules list|check`.
pub fn run(
    command: ModulesCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    match command {
        ModulesCommand::List { manifest, verbose } => {
            let (registry, errors) = module_host::load_manifest(&manifest);
            print_modules(&registry, out)?;
            if verbose {
                print_parameters(&registry, out)?;
            }
            report(&errors, err)
        }
        ModulesCommand::Check { manifest, config } => {
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

/// Prints a table of the loaded modules.
pub fn print_modules(registry: &ModuleRegistry, out: &mut dyn Write) -> std::io::Result<()> {
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

/// Prints, per module, what it declares it takes and what it is given.
fn print_parameters(registry: &ModuleRegistry, out: &mut dyn Write) -> std::io::Result<()> {
    for m in registry.modules() {
        writeln!(out, "\n{} parameters:", m.name)?;
        match &m.declared {
            None => writeln!(
                out,
                "  (none declared: the module checks its parameters itself)"
            )?,
            Some(declared) if declared.is_empty() => writeln!(out, "  (takes none)")?,
            Some(declared) => {
                for p in declared {
                    let default = p
                        .default
                        .as_ref()
                        .map_or_else(String::new, |d| format!(", default {d}"));
                    writeln!(out, "  {} ({}{default}): {}", p.name, p.kind, p.description)?;
                }
            }
        }
        for (key, value) in &m.parameters {
            writeln!(out, "  given: {key} = {value}")?;
        }
    }
    Ok(())
}

/// Prints every error; `Ok(true)` when there were none.
pub fn report(errors: &[LoadError], err: &mut dyn Write) -> std::io::Result<bool> {
    if !errors.is_empty() {
        writeln!(err, "{}", module_host::LoadErrors(errors.to_vec()))?;
    }
    Ok(errors.is_empty())
}
