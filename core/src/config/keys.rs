//! Every configuration key: its table, its type, its flag and what it does.
//! The `CORRAL_*` environment variables, the daemons' flags, their `--help`
//! and the checks on values all come from [`KEYS`].

use std::fmt;

/// A table of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Modules,
    Master,
    Agent,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Modules, Section::Master, Section::Agent];

    /// The table's name in a file: `modules`, `master`, `agent`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Modules => "modules",
            Section::Master => "master",
            Section::Agent => "agent",
        }
    }

    /// The prefix of the table's environment variables, e.g. `CORRAL_MASTER_`.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Section::Modules => "CORRAL_MODULES_",
            Section::Master => "CORRAL_MASTER_",
            Section::Agent => "CORRAL_AGENT_",
        }
    }

    /// The section whose variables start like `var`, if any.
    pub fn of_env_var(var: &str) -> Option<Section> {
        Section::ALL
            .into_iter()
            .find(|s| var.starts_with(s.env_prefix()))
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.name())
    }
}

/// What a key holds, and so how a value given as text (in the environment
/// or on the command line) becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A non-empty string.
    Text,
    /// An IP address.
    Ip,
    /// A path.
    Path,
    /// A whole number (the type of the field bounds it: a port is a `u16`).
    Integer,
    /// A positive, finite number of seconds (`0.5` and `15` both work).
    Seconds,
    /// A list of names; comma-separated as text, an array in a file.
    List,
    /// Mesos resource text, e.g. `cpus:2;mem:1024;ports:[31000-32000]`.
    Resources,
    /// A share: a number above 0 and at most 1.
    Fraction,
    /// `true` or `false`.
    Bool,
}

/// One key of a configuration table.
#[derive(Debug)]
pub struct Key {
    pub section: Section,
    /// The key in the file, e.g. `work_dir`.
    pub name: &'static str,
    /// The long flag without its dashes, e.g. `work-dir`.
    pub flag: &'static str,
    pub kind: Kind,
    /// The placeholder `--help` shows for the value.
    pub value_name: &'static str,
    /// What the key does (one sentence, no trailing period).
    pub help: &'static str,
}

impl Key {
    /// The environment variable: `CORRAL_<SECTION>_<KEY>` in upper case.
    pub fn env_var(&self) -> String {
        format!("{}{}", self.section.env_prefix(), self.name.to_uppercase())
    }

    /// Converts text from the environment or the command line into the
    /// TOML value the key takes; the error says why not.
    pub fn parse_text(&self, raw: &str) -> Result<toml::Value, String> {
        let trimmed = raw.trim();
        let value = match self.kind {
            Kind::Text | Kind::Ip | Kind::Path | Kind::Resources => {
                toml::Value::String(raw.to_owned())
            }
            Kind::Integer => {
                toml::Value::Integer(trimmed.parse::<i64>().map_err(|e| e.to_string())?)
            }
            Kind::Seconds | Kind::Fraction => {
                toml::Value::Float(trimmed.parse::<f64>().map_err(|e| e.to_string())?)
            }
            Kind::Bool => match trimmed {
                "true" | "1" => toml::Value::Boolean(true),
                "false" | "0" => toml::Value::Boolean(false),
                other => return Err(format!("'{other}' is not true or false")),
            },
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| toml::Value::String(item.to_owned()))
                    .collect(),
            ),
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Checks what the field's type cannot: non-empty names, IP addresses,
    /// positive durations, resource text. Values of the wrong type pass
    /// (deserialization reports those).
    pub fn check(&self, value: &toml::Value) -> Result<(), String> {
        match (self.kind, value) {
            (Kind::Text | Kind::Path, toml::Value::String(s)) if s.trim().is_empty() => {
                Err("must not be empty".to_owned())
            }
            (Kind::Ip, toml::Value::String(s)) => s
                .trim()
                .parse::<std::net::IpAddr>()
                .map(|_| ())
                .map_err(|_| format!("'{s}' is not an IP address")),
            (Kind::Seconds, toml::Value::Float(_) | toml::Value::Integer(_)) => {
                let secs = match value {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(i) => *i as f64,
                    _ => unreachable!(),
                };
                if secs.is_finite() && secs > 0.0 {
                    Ok(())
                } else {
                    Err(format!("must be a positive number of seconds, not {secs}"))
                }
            }
            (Kind::Resources, toml::Value::String(s)) => crate::domain::parse_resources(s)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (Kind::Fraction, toml::Value::Float(_) | toml::Value::Integer(_)) => {
                let share = match value {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(i) => *i as f64,
                    _ => unreachable!(),
                };
                if share > 0.0 && share <= 1.0 {
                    Ok(())
                } else {
                    Err(format!("must be above 0 and at most 1, not {share}"))
                }
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Key {
    /// `[master] port`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.section, self.name)
    }
}

/// The key `name` of `section`.
pub fn key(section: Section, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// The keys of `section`, in file order.
pub fn keys_of(section: Section) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| k.section == section)
}

const fn k(
    section: Section,
    name: &'static str,
    flag: &'static str,
    kind: Kind,
    value_name: &'static str,
    help: &'static str,
) -> Key {
    Key {
        section,
        name,
        flag,
        kind,
        value_name,
        help,
    }
}

use Kind::*;
use Section::{Agent, Master, Modules};

/// Every key of `[modules]`, `[master]` and `[agent]`.
pub const KEYS: &[Key] = &[
    k(
        Modules,
        "manifest",
        "manifest",
        Path,
        "FILE",
        "The module manifest; in a file relative to that file, as a flag or \
         variable relative to the current directory (default: the embedded \
         config/modules.toml)",
    ),
    k(
        Modules,
        "allocator",
        "allocator",
        Text,
        "MODULE",
        "The allocator module (Mesos' --allocator)",
    ),
    k(
        Modules,
        "isolation",
        "isolation",
        List,
        "ISOLATORS",
        "Isolator modules in order, comma-separated (Mesos' --isolation); \
         namespaces/pid, filesystem/shared, cgroups/cpu, cgroups/mem, \
         posix/cpu and posix/mem name the shipped modules",
    ),
    k(
        Modules,
        "isolation_unprivileged",
        "isolation-unprivileged",
        List,
        "ISOLATORS",
        "Isolator modules used instead of `isolation` when the agent does \
         not run as root; when unset, `isolation` is used",
    ),
    k(
        Modules,
        "hooks",
        "hooks",
        List,
        "HOOKS",
        "Hook modules in order, comma-separated (Mesos' --hooks)",
    ),
    k(
        Modules,
        "master_contender",
        "master-contender",
        Text,
        "MODULE",
        "The module through which a master given `zk` joins the election and \
         keeps its registry (Mesos' --master_contender)",
    ),
    k(
        Modules,
        "master_detector",
        "master-detector",
        Text,
        "MODULE",
        "The module through which masters, agents and the CLI given a `zk://` \
         URL find the leading master (Mesos' --master_detector)",
    ),
    k(
        Master,
        "ip",
        "ip",
        Ip,
        "IP",
        "The address the master listens on",
    ),
    k(
        Master,
        "port",
        "port",
        Integer,
        "PORT",
        "The port the master listens on (0 picks a free one)",
    ),
    k(
        Master,
        "hostname",
        "hostname",
        Text,
        "HOST",
        "The name agents and frameworks use to reach the master (default: the ip)",
    ),
    k(
        Master,
        "heartbeat_interval_secs",
        "heartbeat-interval-secs",
        Seconds,
        "SECS",
        "Seconds between HEARTBEAT events on each framework's stream",
    ),
    k(
        Master,
        "allocation_interval_secs",
        "allocation-interval-secs",
        Seconds,
        "SECS",
        "Seconds between allocation rounds (offers)",
    ),
    k(
        Master,
        "agent_ping_interval_secs",
        "agent-ping-interval-secs",
        Seconds,
        "SECS",
        "Seconds between the master's pings to each agent, as announced to \
         agents when they register",
    ),
    k(
        Master,
        "agent_timeout_secs",
        "agent-timeout-secs",
        Seconds,
        "SECS",
        "Seconds an agent may stay silent before it is removed and its tasks \
         are lost",
    ),
    k(
        Master,
        "zk",
        "zk",
        Text,
        "URL",
        "Run as one of several masters: join the election at this ZooKeeper \
         URL (zk://[user:password@]host:port,.../path, Mesos' --zk) and keep \
         the registry there; unset runs a single master",
    ),
    k(
        Master,
        "registry",
        "registry",
        Path,
        "FILE",
        "The registry file (an embedded database) keeping admitted agents and \
         frameworks across master restarts; unset keeps nothing",
    ),
    k(
        Master,
        "agent_reregister_timeout_secs",
        "agent-reregister-timeout-secs",
        Seconds,
        "SECS",
        "Seconds agents admitted before a master restart have to re-register \
         before they are removed",
    ),
    k(
        Master,
        "recovery_agent_removal_limit",
        "recovery-agent-removal-limit",
        Fraction,
        "SHARE",
        "The largest share (0 to 1) of admitted agents the master removes at \
         once for not re-registering after a restart",
    ),
    k(
        Master,
        "credentials",
        "credentials",
        Path,
        "FILE",
        "Principals and secrets that may authenticate, in Mesos' --credentials \
         JSON ({\"credentials\": [{\"principal\", \"secret\"}]}) or 'principal secret' lines",
    ),
    k(
        Master,
        "tls_cert",
        "tls-cert",
        Path,
        "FILE",
        "Serve HTTPS with this certificate chain (PEM, leaf first); needs tls_key",
    ),
    k(
        Master,
        "tls_key",
        "tls-key",
        Path,
        "FILE",
        "The private key (PEM) of tls_cert",
    ),
    k(
        Master,
        "acls",
        "acls",
        Path,
        "FILE",
        "Who may do what, in Mesos' --acls JSON (register_frameworks, \
         register_agents, run_tasks, teardown_frameworks, view_*, get_endpoints)",
    ),
    k(
        Master,
        "authenticate_frameworks",
        "authenticate-frameworks",
        Bool,
        "BOOL",
        "Frameworks must authenticate (HTTP Basic) on the scheduler API; a \
         framework id then belongs to the principal that registered it",
    ),
    k(
        Master,
        "authenticate_agents",
        "authenticate-agents",
        Bool,
        "BOOL",
        "Agents must authenticate (HTTP Basic) to register and call; an agent \
         id then belongs to the principal that registered it",
    ),
    k(
        Master,
        "authenticate_http_readonly",
        "authenticate-http-readonly",
        Bool,
        "BOOL",
        "Operators must authenticate on the endpoints that read (state, tasks, \
         metrics, flags, files, the operator API's reads)",
    ),
    k(
        Master,
        "authenticate_http_readwrite",
        "authenticate-http-readwrite",
        Bool,
        "BOOL",
        "Operators must authenticate on the endpoints that change the cluster \
         (teardown, the operator API's TEARDOWN)",
    ),
    k(
        Agent,
        "ip",
        "ip",
        Ip,
        "IP",
        "The address the agent listens on",
    ),
    k(
        Agent,
        "port",
        "port",
        Integer,
        "PORT",
        "The port the agent listens on (0 picks a free one; `corral local` \
         always does)",
    ),
    k(
        Agent,
        "hostname",
        "hostname",
        Text,
        "HOST",
        "The name the master and executors use to reach the agent (default: \
         the ip)",
    ),
    k(
        Agent,
        "master",
        "master",
        Text,
        "HOST:PORT",
        "The master to register with (required by `corral agent`; `corral \
         local` uses its own)",
    ),
    k(
        Agent,
        "work_dir",
        "work-dir",
        Path,
        "DIR",
        "Where sandboxes live (default: <temp dir>/corral)",
    ),
    k(
        Agent,
        "resources",
        "resources",
        Resources,
        "RESOURCES",
        "Resources replacing detected ones, Mesos-style: \
         cpus:4;mem:2048;disk:10000;ports:[31000-32000] (default: detected)",
    ),
    k(
        Agent,
        "status_update_retry_secs",
        "status-update-retry-secs",
        Seconds,
        "SECS",
        "Seconds before an unacknowledged status update is first resent \
         (doubling up to 60 times that)",
    ),
    k(
        Agent,
        "executor_registration_timeout_secs",
        "executor-registration-timeout-secs",
        Seconds,
        "SECS",
        "Seconds an executor has to subscribe before it is killed",
    ),
    k(
        Agent,
        "executor_shutdown_grace_secs",
        "executor-shutdown-grace-secs",
        Seconds,
        "SECS",
        "Seconds between asking an executor to shut down (or a task to be \
         killed) and killing it",
    ),
    k(
        Agent,
        "executor_heartbeat_interval_secs",
        "executor-heartbeat-interval-secs",
        Seconds,
        "SECS",
        "Seconds between HEARTBEAT events on each executor's stream",
    ),
    k(
        Agent,
        "master_timeout_secs",
        "master-timeout-secs",
        Seconds,
        "SECS",
        "Seconds without an event from the master before the agent \
         reconnects",
    ),
    k(
        Agent,
        "cgroups_root",
        "cgroups-root",
        Text,
        "CGROUP",
        "The cgroup under which every container gets a freezer cgroup",
    ),
    k(
        Agent,
        "credential",
        "credential",
        Path,
        "FILE",
        "The agent's own credential for the master, as Mesos' --credential \
         ({\"principal\", \"secret\"} or one 'principal secret' line)",
    ),
    k(
        Agent,
        "http_credentials",
        "http-credentials",
        Path,
        "FILE",
        "Principals and secrets operators may use on the agent's endpoints \
         (the master's credentials format)",
    ),
    k(
        Agent,
        "authenticate_http_readonly",
        "authenticate-http-readonly",
        Bool,
        "BOOL",
        "Operators must authenticate on the agent's endpoints (state, files, \
         the operator API, metrics)",
    ),
    k(
        Agent,
        "tls_cert",
        "tls-cert",
        Path,
        "FILE",
        "Serve HTTPS with this certificate chain (PEM, leaf first); needs tls_key",
    ),
    k(
        Agent,
        "tls_key",
        "tls-key",
        Path,
        "FILE",
        "The private key (PEM) of tls_cert",
    ),
    k(
        Agent,
        "tls_ca",
        "tls-ca",
        Path,
        "FILE",
        "The CA (PEM) that verifies the master, reached over HTTPS when set; \
         executors verify this agent with it when it serves HTTPS",
    ),
    k(
        Agent,
        "acls",
        "acls",
        Path,
        "FILE",
        "Who may read which sandboxes, in Mesos' --acls JSON (access_sandboxes)",
    ),
    k(
        Agent,
        "switch_user",
        "switch-user",
        Bool,
        "BOOL",
        "Containers run as their task's user (CommandInfo.user, else \
         FrameworkInfo.user), as Mesos' --switch_user; needs an agent running as root",
    ),
    k(
        Agent,
        "authenticate_http_executors",
        "authenticate-http-executors",
        Bool,
        "BOOL",
        "Executors must show the token the agent gives each one \
         (MESOS_EXECUTOR_AUTHENTICATION_TOKEN, as Authorization: Bearer)",
    ),
];
