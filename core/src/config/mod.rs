//! Daemon configuration: TOML files with `[modules]`, `[master]` and
//! `[agent]` tables, then `CORRAL_*` environment variables, then command-line
//! flags, each overriding the one before. Unknown keys and bad values are
//! errors naming the key and where it was set (file, variable or flag).
//!
//! [`keys::KEYS`] lists every key with its type, flag and description;
//! [`layers`] turns variables and flags into checked TOML values.

pub mod keys;
pub mod layers;
mod sections;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use keys::{Key, Kind, Section, KEYS};
pub use layers::{Origin, Override};
pub use sections::{
    isolator_module_name, running_as_root, AgentSection, DaemonConfig, MasterSection,
    ModulesConfig, DEFAULT_ALLOCATOR, DEFAULT_MASTER_CONTENDER, DEFAULT_MASTER_DETECTOR,
    MESOS_ISOLATOR_NAMES,
};

use crate::module_host::{self, LoadError, Manifest, ModuleRegistry, Selection};

/// `config/local.toml`, built into the binary.
pub const EMBEDDED_LOCAL: &str = include_str!("../../../config/local.toml");
/// `config/modules.toml`, built into the binary.
pub const EMBEDDED_MANIFEST: &str = include_str!("../../../config/modules.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{}: cannot read configuration: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key of it is unknown or has a bad
    /// value (`key` is `[section] name`, or `[section]`, when known).
    #[error("{}: {}{message}", path.display(), key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        key: Option<String>,
        message: String,
    },
    /// A bad value from an environment variable or a flag.
    #[error("{origin}='{value}': {key}: {message}")]
    Override {
        /// `CORRAL_MASTER_PORT` or `--port`.
        origin: String,
        value: String,
        /// `[master] port`.
        key: String,
        message: String,
    },
    #[error("{var}: no such key in {section} (its variables: {})", known.join(", "))]
    UnknownVariable {
        var: String,
        section: Section,
        known: Vec<String>,
    },
    #[error("{var}: the value is not valid UTF-8")]
    NotUnicode { var: String },
}

/// A configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file, or `<embedded>/config/local.toml` for the built-in defaults.
    pub source: PathBuf,
    /// `None` for the embedded defaults.
    pub dir: Option<PathBuf>,
    pub config: DaemonConfig,
    /// The variables and flags laid over the file, in the order applied.
    pub overrides: Vec<Override>,
}

impl LoadedConfig {
    /// Reads `path`, or the embedded `config/local.toml` when `None`, with
    /// this process's `CORRAL_*` variables over it.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env = Override::from_env(std::env::vars_os())?;
        Self::load_layered(path, &env)
    }

    /// Reads `path`, or the embedded `config/local.toml` when `None`, and
    /// lays `overrides` over it in order (a later one wins).
    pub fn load_layered(path: Option<&Path>, overrides: &[Override]) -> Result<Self, ConfigError> {
        let (source, dir, text) = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Unreadable {
                        path: p.to_owned(),
                        source,
                    })?;
                (
                    p.to_owned(),
                    Some(p.parent().unwrap_or(Path::new(".")).to_owned()),
                    text,
                )
            }
            None => (
                PathBuf::from("<embedded>/config/local.toml"),
                None,
                EMBEDDED_LOCAL.to_owned(),
            ),
        };
        let mut table = parse_file(&source, &text)?;
        for o in overrides {
            let value = o.value()?;
            let section = table
                .entry(o.key.section.name())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(section) = section {
                section.insert(o.key.name.to_owned(), value);
            }
        }
        let config = toml::Value::Table(table)
            .try_into::<DaemonConfig>()
            .map_err(|e| ConfigError::Invalid {
                path: source.clone(),
                key: None,
                message: e.message().trim_end().to_owned(),
            })?;
        Ok(LoadedConfig {
            source,
            dir,
            config,
            overrides: overrides.to_vec(),
        })
    }

    /// Where `key` was last set: the override (`--port='5051'`), or the file.
    pub fn origin_of(&self, key: &Key) -> String {
        self.overrides
            .iter()
            .rev()
            .find(|o| std::ptr::eq(o.key, key))
            .map_or_else(|| self.source.display().to_string(), ToString::to_string)
    }

    /// The file and the variables and flags over it, for operators:
    /// `config/master.toml + CORRAL_MASTER_PORT, --ip`.
    pub fn describe(&self) -> String {
        let mut origins: Vec<String> = Vec::new();
        for o in &self.overrides {
            let origin = o.origin.to_string();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.is_empty() {
            self.source.display().to_string()
        } else {
            format!("{} + {}", self.source.display(), origins.join(", "))
        }
    }

    /// The isolation entries in effect: `isolation`, or, when not running
    /// as root and the file has one, `isolation_unprivileged`.
    pub fn effective_isolation(&self) -> &[String] {
        let m = &self.config.modules;
        match &m.isolation_unprivileged {
            Some(list) if !running_as_root() => list,
            _ => &m.isolation,
        }
    }

    /// The modules this configuration selects (for an agent, or for
    /// everything when checking a configuration).
    pub fn selection(&self) -> Selection {
        let m = &self.config.modules;
        Selection {
            source: self.source.display().to_string(),
            allocator: m.allocator.clone(),
            isolation: self
                .effective_isolation()
                .iter()
                .map(|e| isolator_module_name(e))
                .collect(),
            hooks: m.hooks.clone(),
        }
    }

    /// The modules a master uses: no isolators.
    pub fn master_selection(&self) -> Selection {
        Selection {
            isolation: Vec::new(),
            ..self.selection()
        }
    }

    /// The modules an agent uses: no allocator (only masters allocate).
    pub fn agent_selection(&self) -> Selection {
        Selection {
            allocator: None,
            ..self.selection()
        }
    }

    /// Loads the manifest this configuration names (the embedded one for
    /// the embedded defaults).
    pub fn load_modules(&self) -> (ModuleRegistry, Vec<LoadError>) {
        let overridden = self
            .overrides
            .iter()
            .any(|o| o.key.section == Section::Modules && o.key.name == "manifest");
        let manifest = match (&self.dir, &self.config.modules.manifest) {
            // From a variable or a flag: relative to the current directory.
            (_, Some(manifest)) if overridden => Manifest::load(manifest),
            (Some(dir), Some(manifest)) => Manifest::load(&dir.join(manifest)),
            (None, _) => Manifest::parse(
                EMBEDDED_MANIFEST,
                Path::new("<embedded>/config/modules.toml"),
                Path::new("."),
            ),
            (Some(_), None) => Ok(Manifest::default()),
        };
        match manifest {
            Ok(m) => module_host::load(&m, &module_host::default_search_paths()),
            Err(e) => (ModuleRegistry::default(), vec![e]),
        }
    }
}

/// Parses a configuration file into a table, checking it as a whole: an
/// unknown key or a bad value is an error naming the file and the key.
fn parse_file(source: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    let invalid = |key: Option<String>, message: String| ConfigError::Invalid {
        path: source.to_owned(),
        key,
        message,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| invalid(None, e.to_string().trim_end().to_owned()))?;
    if let Err(e) = toml::from_str::<DaemonConfig>(text) {
        let message = e.message().trim_end().to_owned();
        return Err(match layers::locate_bad_key(&table) {
            Some((key, why)) => {
                // The position, when toml's first error is about that key.
                let at = e
                    .span()
                    .filter(|_| why == message)
                    .map(|span| line_column(text, span.start))
                    .map(|(l, c)| format!(" (line {l}, column {c})"))
                    .unwrap_or_default();
                invalid(Some(key), format!("{why}{at}"))
            }
            None => invalid(None, e.to_string().trim_end().to_owned()),
        });
    }
    if let Some((key, why)) = layers::check_values(&table) {
        return Err(invalid(Some(key.to_string()), why));
    }
    Ok(table)
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
