//! Daemon configuration: TOML files with `[modules]`, `[master]` and
//! `[agent]` tables, then `CORRAL_*` environment variables, then command-line
//! flags, each overriding the one before. Unknown keys and bad values are
//! errors naming the key and where it was set (file, variable or flag).
//!
//! [`keys::KEYS`] lists every key with its type, flag and description;
//! [`layers`] turns variables and flags into checked TOML values.

pub mod keys;
pub mod layers;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use keys::{Key, Kind, Section, KEYS};
pub use layers::{Origin, Override};

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

/// The `[modules]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModulesConfig {
    /// The manifest, relative to the configuration file (relative to the
    /// current directory when set by a variable or a flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocator: Option<String>,
    /// Isolator modules in order; Mesos' names (`namespaces/pid`, ...) name
    /// the shipped modules.
    #[serde(default)]
    pub isolation: Vec<String>,
    /// Used instead of `isolation` when the agent does not run as root.
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// The `[master]` table. Every field is a key of [`KEYS`], documented there.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MasterSection {
    /// The address to listen on.
    pub ip: String,
    pub port: u16,
    /// The name agents and frameworks use to reach the master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub heartbeat_interval_secs: f64,
    pub allocation_interval_secs: f64,
    pub agent_ping_interval_secs: f64,
    pub agent_timeout_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<PathBuf>,
    pub agent_reregister_timeout_secs: f64,
    pub recovery_agent_removal_limit: f64,
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
            registry: None,
            agent_reregister_timeout_secs: 600.0,
            recovery_agent_removal_limit: 1.0,
        }
    }
}

/// The `[agent]` table. Every field is a key of [`KEYS`], documented there.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    pub ip: String,
    /// 0 picks a free port.
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `host:port` of the master (`corral agent`; `corral local` uses its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Where sandboxes live; default: `<temp dir>/corral`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<PathBuf>,
    /// Mesos-style resources replacing detected ones, e.g.
    /// `"cpus:4;mem:2048;disk:10000;ports:[31000-32000]"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
    pub status_update_retry_secs: f64,
    pub executor_registration_timeout_secs: f64,
    pub executor_shutdown_grace_secs: f64,
    pub executor_heartbeat_interval_secs: f64,
    /// The agent reconnects after this long without an event from the master.
    pub master_timeout_secs: f64,
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
            executor_heartbeat_interval_secs: 1800.0,
            master_timeout_secs: 75.0,
            cgroups_root: "corral".into(),
        }
    }
}

/// A whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corral.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn env(vars: &[(&str, &str)]) -> Vec<Override> {
        Override::from_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    fn flag(name: &'static str, section: Section, raw: &str) -> Override {
        Override::flag(name, keys::key(section, name).unwrap(), raw)
    }

    fn load(path: &Path, overrides: &[Override]) -> Result<DaemonConfig, String> {
        LoadedConfig::load_layered(Some(path), overrides)
            .map(|l| l.config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_embedded_defaults_parse_and_select_the_env_hook() {
        let loaded = LoadedConfig::load_layered(None, &[]).unwrap();
        assert_eq!(loaded.selection().hooks, ["org_corral_hook_env"]);
        let manifest = Manifest::parse(EMBEDDED_MANIFEST, Path::new("m"), Path::new(".")).unwrap();
        assert!(manifest.errors.is_empty(), "{:?}", manifest.errors);
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let (_dir, path) = file("[modules]\nhookz = []\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(
            err.contains("[modules] hookz: unknown field `hookz`"),
            "{err}"
        );
        assert!(err.contains("(line 2, column 1)"), "{err}");

        let (_dir, path) = file("[mastr]\nport = 1\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.contains(": [mastr]: unknown field `mastr`"), "{err}");
    }

    #[test]
    fn bad_values_in_a_file_name_the_key_the_file_and_the_line() {
        let (_dir, path) = file("[master]\nip = \"127.0.0.1\"\nport = \"abc\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{}: [master] port: invalid type: string \"abc\", expected u16 (line 3, column 8)",
                path.display()
            )
        );

        let (_dir, path) = file("[agent]\nport = 70000\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(
            err.contains("[agent] port: invalid value: integer `70000`, expected u16"),
            "{err}"
        );

        let (_dir, path) = file("[master]\nheartbeat_interval_secs = -1\n");
        let err = load(&path, &[]).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{}: [master] heartbeat_interval_secs: must be a positive number of seconds, not -1",
                path.display()
            )
        );

        let (_dir, path) = file("[agent]\nip = \"localhost:5\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(
            err.contains("[agent] ip: 'localhost:5' is not an IP address"),
            "{err}"
        );

        let (_dir, path) = file("[master\nport = 1\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("TOML parse error at line 1"), "{err}");
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_file() {
        let (_dir, path) = file("[master]\nport = 1\n[agent]\nwork_dir = \"/from/file\"\n");
        let from_env = env(&[
            ("CORRAL_MASTER_PORT", "2"),
            ("CORRAL_AGENT_WORK_DIR", "/from/env"),
        ]);
        let from_flags = [flag("port", Section::Master, "3")];
        let all: Vec<Override> = from_env.iter().cloned().chain(from_flags.clone()).collect();

        let config = load(&path, &all).unwrap();
        assert_eq!(config.master.port, 3);
        assert_eq!(
            config.agent.work_dir.as_deref(),
            Some(Path::new("/from/env"))
        );

        let config = load(&path, &from_env).unwrap();
        assert_eq!(config.master.port, 2);

        let config = load(&path, &from_flags).unwrap();
        assert_eq!(config.master.port, 3);
        assert_eq!(
            config.agent.work_dir.as_deref(),
            Some(Path::new("/from/file"))
        );

        let config = load(&path, &[]).unwrap();
        assert_eq!(config.master.port, 1);
        assert_eq!(
            config.master.ip, "127.0.0.1",
            "unset keys keep their defaults"
        );
    }

    #[test]
    fn bad_variables_name_the_variable_and_the_key() {
        let (_dir, path) = file("");
        let err = load(&path, &env(&[("CORRAL_MASTER_PORT", "abc")])).unwrap_err();
        assert_eq!(
            err,
            "CORRAL_MASTER_PORT='abc': [master] port: invalid digit found in string"
        );
        let err = load(&path, &env(&[("CORRAL_AGENT_PORT", "70000")])).unwrap_err();
        assert_eq!(
            err,
            "CORRAL_AGENT_PORT='70000': [agent] port: invalid value: integer `70000`, expected u16"
        );
        let err = load(
            &path,
            &env(&[("CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS", "soon")]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS='soon': \
             [agent] executor_shutdown_grace_secs: invalid float literal"
        );
        let err = load(&path, &env(&[("CORRAL_MASTER_AGENT_TIMEOUT_SECS", "0")])).unwrap_err();
        assert!(
            err.ends_with("must be a positive number of seconds, not 0"),
            "{err}"
        );
        let err = load(&path, &env(&[("CORRAL_AGENT_RESOURCES", "cpus:lots")])).unwrap_err();
        assert!(
            err.starts_with("CORRAL_AGENT_RESOURCES='cpus:lots': [agent] resources: "),
            "{err}"
        );
        let err = load(&path, &[flag("port", Section::Agent, "-1")]).unwrap_err();
        assert!(
            err.starts_with("--port='-1': [agent] port: invalid value"),
            "{err}"
        );
    }

    #[test]
    fn unknown_variables_are_errors_and_other_variables_are_ignored() {
        let err = Override::from_env([("CORRAL_MASTER_PROT", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("CORRAL_MASTER_PROT: no such key in [master] (its variables: CORRAL_MASTER_IP, CORRAL_MASTER_PORT,"),
            "{err}"
        );
        let ignored = Override::from_env([
            ("CORRAL_LOG", "debug"),
            ("CORRAL_LOG_FORMAT", "json"),
            ("CORRAL_CONFIG", "x.toml"),
            ("CORRAL_MODULE_PATH", "/lib"),
            ("CORRAL_MASTER", "x"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert!(ignored.is_empty(), "{ignored:?}");
    }

    #[test]
    fn lists_are_comma_separated() {
        let (_dir, path) = file("[modules]\nhooks = [\"h\"]\n");
        let config = load(
            &path,
            &env(&[
                ("CORRAL_MODULES_ISOLATION", "posix/cpu, posix/mem"),
                ("CORRAL_MODULES_HOOKS", ""),
            ]),
        )
        .unwrap();
        assert_eq!(config.modules.isolation, ["posix/cpu", "posix/mem"]);
        assert!(config.modules.hooks.is_empty());
    }

    /// A value of each kind, as text and as the TOML the text must become.
    fn sample(kind: Kind) -> (&'static str, toml::Value) {
        let s = |v: &str| toml::Value::String(v.to_owned());
        match kind {
            Kind::Text => ("some-name", s("some-name")),
            Kind::Ip => ("10.1.2.3", s("10.1.2.3")),
            Kind::Path => ("/some/path", s("/some/path")),
            Kind::Integer => ("4242", toml::Value::Integer(4242)),
            Kind::Seconds => ("2.5", toml::Value::Float(2.5)),
            Kind::List => ("a,b", toml::Value::Array(vec![s("a"), s("b")])),
            Kind::Resources => ("cpus:2;mem:64", s("cpus:2;mem:64")),
            Kind::Fraction => ("0.25", toml::Value::Float(0.25)),
        }
    }

    #[test]
    fn every_key_can_be_set_by_its_variable_and_by_its_flag() {
        let (_dir, path) = file("");
        for key in KEYS {
            let (raw, expected) = sample(key.kind);
            let var = key.env_var();
            let through_env = env(&[(var.as_str(), raw)]);
            let through_flag = [Override::flag(key.flag, key, raw)];
            for overrides in [&through_env[..], &through_flag[..]] {
                let config = load(&path, overrides).unwrap();
                let table = toml::Table::try_from(&config).unwrap();
                assert_eq!(
                    table[key.section.name()].get(key.name),
                    Some(&expected),
                    "{key} from {}",
                    overrides[0]
                );
            }
        }
    }

    #[test]
    fn keys_lists_exactly_the_fields_of_every_table() {
        let full = DaemonConfig {
            modules: ModulesConfig {
                manifest: Some("m.toml".into()),
                allocator: Some("a".into()),
                isolation: vec![],
                isolation_unprivileged: Some(vec![]),
                hooks: vec![],
            },
            master: MasterSection {
                hostname: Some("h".into()),
                registry: Some("/r.redb".into()),
                ..MasterSection::default()
            },
            agent: AgentSection {
                hostname: Some("h".into()),
                master: Some("m:1".into()),
                work_dir: Some("/w".into()),
                resources: Some("cpus:1".into()),
                ..AgentSection::default()
            },
        };
        let table = toml::Table::try_from(&full).unwrap();
        for section in Section::ALL {
            let mut fields: Vec<&str> = table[section.name()]
                .as_table()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut listed: Vec<&str> = keys::keys_of(section).map(|k| k.name).collect();
            fields.sort_unstable();
            listed.sort_unstable();
            assert_eq!(fields, listed, "{section}");
        }
        for key in KEYS {
            assert_eq!(key.flag, key.name.replace('_', "-"), "{key}");
            assert!(!key.help.ends_with('.'), "{key}");
        }
    }

    #[test]
    fn origins_say_where_each_key_was_set() {
        let (_dir, path) = file("[master]\nport = 1\n");
        let overrides: Vec<Override> = env(&[("CORRAL_MASTER_PORT", "2")])
            .into_iter()
            .chain([flag("port", Section::Master, "3")])
            .collect();
        let loaded = LoadedConfig::load_layered(Some(&path), &overrides).unwrap();
        let port = keys::key(Section::Master, "port").unwrap();
        let ip = keys::key(Section::Master, "ip").unwrap();
        assert_eq!(loaded.origin_of(port), "--port='3'");
        assert_eq!(loaded.origin_of(ip), path.display().to_string());
        assert_eq!(
            loaded.describe(),
            format!("{} + CORRAL_MASTER_PORT, --port", path.display())
        );
    }
}
