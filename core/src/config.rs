//! Daemon configuration files (TOML). Unknown keys are errors that name the
//! key and the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::module_host::{self, LoadError, Manifest, ModuleRegistry, Selection};

/// `config/local.toml`, built into the binary.
pub const EMBEDDED_LOCAL: &str = include_str!("../../config/local.toml");
/// `config/modules.toml`, built into the binary.
pub const EMBEDDED_MANIFEST: &str = include_str!("../../config/modules.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{}: cannot read configuration: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The `[modules]` table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModulesConfig {
    /// The manifest, relative to the configuration file.
    pub manifest: Option<PathBuf>,
    pub allocator: Option<String>,
    /// Isolator modules in order; Mesos' names (`namespaces/pid`, ...) name
    /// the shipped modules.
    #[serde(default)]
    pub isolation: Vec<String>,
    /// Used instead of `isolation` when the agent does not run as root.
    pub isolation_unprivileged: Option<Vec<String>>,
    #[serde(default)]
    pub hooks: Vec<String>,
}

/// Mesos' isolator names and the shipped modules they stand for.
pub const MESOS_ISOLATOR_NAMES: &[(&str, &str)] = &[
    ("namespaces/pid", "org_corral_isolator_namespaces_pid"),
    ("filesystem/shared", "org_corral_isolator_filesystem_shared"),
    ("cgroups/cpu", "org_corral_isolator_cgroups_cpu"),
    ("cgroups/mem", "org_corral_isolator_cgroups_mem"),
    ("posix/cpu", "org_corral_isolator_posix_cpu"),
    ("posix/mem", "org_corral_isolator_posix_mem"),
];

/// The module an `isolation` entry names.
pub fn isolator_module_name(entry: &str) -> String {
    MESOS_ISOLATOR_NAMES
        .iter()
        .find(|(mesos, _)| *mesos == entry)
        .map_or(entry, |(_, module)| module)
        .to_owned()
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The `[master]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MasterSection {
    /// The address to listen on.
    pub ip: String,
    pub port: u16,
    /// The name agents and frameworks use to reach the master.
    pub hostname: Option<String>,
    pub heartbeat_interval_secs: f64,
    pub allocation_interval_secs: f64,
    pub agent_ping_interval_secs: f64,
    pub agent_timeout_secs: f64,
}

impl Default for MasterSection {
    fn default() -> Self {
        MasterSection {
            ip: "127.0.0.1".into(),
            port: 5050,
            hostname: None,
            heartbeat_interval_secs: 15.0,
            allocation_interval_secs: 1.0,
            agent_ping_interval_secs: 15.0,
            agent_timeout_secs: 75.0,
        }
    }
}

/// The `[agent]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    pub ip: String,
    /// 0 picks a free port.
    pub port: u16,
    pub hostname: Option<String>,
    /// `host:port` of the master (`corral agent`; `corral local` uses its own).
    pub master: Option<String>,
    /// Where sandboxes live; default: `<temp dir>/corral`.
    pub work_dir: Option<PathBuf>,
    /// Mesos-style resources replacing detected ones, e.g.
    /// `"cpus:4;mem:2048;disk:10000;ports:[31000-32000]"`.
    pub resources: Option<String>,
    pub status_update_retry_secs: f64,
    pub executor_registration_timeout_secs: f64,
    pub executor_shutdown_grace_secs: f64,
    /// The cgroup under which every container gets a freezer cgroup.
    pub cgroups_root: String,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            ip: "127.0.0.1".into(),
            port: 5051,
            hostname: None,
            master: None,
            work_dir: None,
            resources: None,
            status_update_retry_secs: 10.0,
            executor_registration_timeout_secs: 60.0,
            executor_shutdown_grace_secs: 5.0,
            cgroups_root: "corral".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    #[serde(default)]
    pub modules: ModulesConfig,
    #[serde(default)]
    pub master: MasterSection,
    #[serde(default)]
    pub agent: AgentSection,
}

/// A configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file, or `<embedded>/config/local.toml` for the built-in defaults.
    pub source: PathBuf,
    /// `None` for the embedded defaults.
    pub dir: Option<PathBuf>,
    pub config: DaemonConfig,
}

impl LoadedConfig {
    /// Reads `path`, or the embedded `config/local.toml` when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
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
        let config = toml::from_str(&text).map_err(|e: toml::de::Error| ConfigError::Invalid {
            path: source.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        Ok(LoadedConfig {
            source,
            dir,
            config,
        })
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

    /// Loads the manifest this configuration names (the embedded one for
    /// the embedded defaults).
    pub fn load_modules(&self) -> (ModuleRegistry, Vec<LoadError>) {
        let manifest = match (&self.dir, &self.config.modules.manifest) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_parse_and_select_the_env_hook() {
        let loaded = LoadedConfig::load(None).unwrap();
        assert_eq!(loaded.selection().hooks, ["org_corral_hook_env"]);
        let manifest = Manifest::parse(EMBEDDED_MANIFEST, Path::new("m"), Path::new(".")).unwrap();
        assert!(manifest.errors.is_empty(), "{:?}", manifest.errors);
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[modules]\nhookz = []\n").unwrap();
        let err = LoadedConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("hookz"), "{err}");
    }
}
