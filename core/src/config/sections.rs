//! The tables of a configuration file and their defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The allocator a configuration without `allocator` gets: the shipped DRF
/// allocator, as Mesos' `--allocator` defaults to `HierarchicalDRF`.
pub const DEFAULT_ALLOCATOR: &str = "org_corral_allocator_drf";

fn default_allocator() -> Option<String> {
    Some(DEFAULT_ALLOCATOR.to_owned())
}

/// The contender and detector a configuration gets unless it names
/// others: the shipped ZooKeeper module's.
pub const DEFAULT_MASTER_CONTENDER: &str = "org_corral_master_zookeeper_contender";
pub const DEFAULT_MASTER_DETECTOR: &str = "org_corral_master_zookeeper_detector";

fn default_contender() -> String {
    DEFAULT_MASTER_CONTENDER.to_owned()
}

fn default_detector() -> String {
    DEFAULT_MASTER_DETECTOR.to_owned()
}

/// The `[modules]` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModulesConfig {
    /// The manifest, relative to the configuration file (relative to the
    /// current directory when set by a variable or a flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    /// [`DEFAULT_ALLOCATOR`] unless set.
    #[serde(default = "default_allocator", skip_serializing_if = "Option::is_none")]
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
    #[serde(default = "default_contender")]
    pub master_contender: String,
    #[serde(default = "default_detector")]
    pub master_detector: String,
}

impl Default for ModulesConfig {
    fn default() -> Self {
        ModulesConfig {
            manifest: None,
            allocator: default_allocator(),
            isolation: Vec::new(),
            isolation_unprivileged: None,
            hooks: Vec::new(),
            master_contender: default_contender(),
            master_detector: default_detector(),
        }
    }
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
    pub zk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<PathBuf>,
    pub agent_reregister_timeout_secs: f64,
    pub recovery_agent_removal_limit: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acls: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    pub authenticate_frameworks: bool,
    pub authenticate_agents: bool,
    pub authenticate_http_readonly: bool,
    pub authenticate_http_readwrite: bool,
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
            zk: None,
            registry: None,
            agent_reregister_timeout_secs: 600.0,
            recovery_agent_removal_limit: 1.0,
            credentials: None,
            acls: None,
            tls_cert: None,
            tls_key: None,
            authenticate_frameworks: false,
            authenticate_agents: false,
            authenticate_http_readonly: false,
            authenticate_http_readwrite: false,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_credentials: Option<PathBuf>,
    pub authenticate_http_readonly: bool,
    pub authenticate_http_executors: bool,
    pub switch_user: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acls: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
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
            credential: None,
            http_credentials: None,
            authenticate_http_readonly: false,
            authenticate_http_executors: false,
            switch_user: true,
            acls: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
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
