//! The `corral` command: argument definitions and subcommands. Commands
//! write reports to the writers they are given and return whether they
//! succeeded, so tests can run them in-process.

mod client;
mod daemons;
mod events;
mod execute;
mod leader;
mod modules_cmd;
mod ps;
mod sandbox;
mod simulate;
mod summary;
mod tail;

use std::{
    ffi::OsString,
    fmt,
    io::{IsTerminal, Write},
    marker::PhantomData,
    path::PathBuf,
    sync::OnceLock,
};

use clap::{Arg, ArgMatches, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::config::{
    keys::{key, keys_of},
    ConfigError, Key, LoadedConfig, Origin, Override, Section,
};

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
    /// What to log: a level (error, warn, info, debug, trace) or any tracing
    /// filter, e.g. "info,corral::agent=debug" [env: CORRAL_LOG] [default:
    /// info; warn for execute, ps, tail, state and events]
    #[arg(long, global = true, value_name = "FILTER", help_heading = "Logging")]
    pub log_level: Option<String>,
    /// How to write logs to stderr: text lines or one JSON object per line
    /// [env: CORRAL_LOG_FORMAT] [default: text]
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        help_heading = "Logging"
    )]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a master and an agent in one process (all-in-one mode).
    Local(LocalArgs),
    /// Run a master.
    Master(MasterArgs),
    /// Run an agent.
    Agent(AgentArgs),
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
    /// List a cluster's running tasks, like mesos-ps.
    Ps {
        /// `host:port` of the master.
        #[arg(long)]
        master: String,
        /// Include finished tasks.
        #[arg(long)]
        all: bool,
    },
    /// Print a task's stdout (or another sandbox file), like mesos-tail.
    Tail {
        /// `host:port` of the master.
        #[arg(long)]
        master: String,
        /// The task whose sandbox to read.
        task_id: String,
        /// The file in the sandbox.
        #[arg(long, default_value = "stdout")]
        file: String,
        /// Keep printing as the file grows, until the task has ended.
        #[arg(long, short)]
        follow: bool,
    },
    /// Follow a cluster's changes (the v1 operator API's event stream):
    /// one line per event, until the stream ends or `--count` events.
    Events {
        /// `host:port` of the master.
        #[arg(long)]
        master: String,
        /// Stop after this many events (heartbeats not counted).
        #[arg(long)]
        count: Option<u64>,
        /// Print each event as one line of JSON.
        #[arg(long)]
        json: bool,
        /// Print heartbeats too.
        #[arg(long)]
        heartbeats: bool,
    },
    /// Summarise a cluster: agents, frameworks, tasks and resources.
    State {
        /// `host:port` of the master.
        #[arg(long)]
        master: String,
    },
    /// Try an allocator module (a Lua policy script above all) on a
    /// synthetic cluster, without a master.
    Allocator {
        #[command(subcommand)]
        command: simulate::AllocatorCommand,
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

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// The logging a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter.
    pub filter: String,
    pub format: LogFormat,
}

impl Cli {
    /// `--log-level` and `--log-format`, else `CORRAL_LOG` and
    /// `CORRAL_LOG_FORMAT` (read through `env`; empty counts as unset),
    /// else `info` (`warn` for the operator commands, whose output is what
    /// they print) and text. A bad value is an error naming where it came
    /// from.
    pub fn log_settings(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<LogSettings, String> {
        let env = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        let (filter, origin) = match (&self.log_level, env("CORRAL_LOG")) {
            (Some(level), _) => (level.clone(), "--log-level"),
            (None, Some(level)) => (level, "CORRAL_LOG"),
            (None, None) => {
                let quiet = matches!(
                    self.command,
                    Command::Execute { .. }
                        | Command::Ps { .. }
                        | Command::Tail { .. }
                        | Command::State { .. }
                        | Command::Events { .. }
                );
                let level = if quiet { "warn" } else { "info" };
                (level.to_owned(), "the default log level")
            }
        };
        EnvFilter::try_new(&filter)
            .map_err(|e| format!("{origin}='{filter}': not a log filter: {e}"))?;
        let format = match (self.log_format, env("CORRAL_LOG_FORMAT")) {
            (Some(format), _) => format,
            (None, Some(format)) => LogFormat::from_str(format.trim(), true)
                .map_err(|_| format!("CORRAL_LOG_FORMAT='{format}': expected text or json"))?,
            (None, None) => LogFormat::Text,
        };
        Ok(LogSettings { filter, format })
    }
}

/// Installs the global `tracing` subscriber: logs to stderr, filtered and
/// formatted as `settings` say.
pub fn init_logging(settings: &LogSettings) -> Result<(), String> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| e.to_string())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| format!("cannot set up logging: {e}"))
}

/// A flag of `corral master`, `agent` or `local` and the configuration keys
/// it sets.
#[derive(Debug)]
pub struct DaemonFlag {
    /// The long name, without dashes.
    pub long: &'static str,
    pub keys: Vec<&'static Key>,
    /// Replaces the first key's description.
    pub help: Option<&'static str>,
}

impl DaemonFlag {
    fn of(key: &'static Key) -> DaemonFlag {
        DaemonFlag {
            long: key.flag,
            keys: vec![key],
            help: None,
        }
    }

    fn of_module_keys(names: &'static [&'static str]) -> impl Iterator<Item = DaemonFlag> {
        names
            .iter()
            .filter_map(|name| key(Section::Modules, name))
            .map(DaemonFlag::of)
    }

    /// The `--help` text: what it does, its variables and its default.
    fn help_text(&self) -> String {
        let first = self.keys[0];
        let vars: Vec<String> = self.keys.iter().map(|k| k.env_var()).collect();
        let embedded = default_text(first, Defaults::Embedded);
        let in_file = default_text(first, Defaults::InFile);
        let default = match (embedded, in_file) {
            (Some(d), f) if f.as_ref() == Some(&d) => format!(" [default: {d}]"),
            (Some(d), Some(f)) => {
                format!(" [default: {d}; {f} in a --config file that does not set it]")
            }
            (Some(d), None) => {
                format!(" [default: {d}; unset in a --config file that does not set it]")
            }
            (None, Some(f)) => format!(" [default: unset; {f} in a --config file]"),
            (None, None) => String::new(),
        };
        format!(
            "{} [env: {}]{default}",
            self.help.unwrap_or(first.help),
            vars.join(", ")
        )
    }
}

/// Where a default comes from: the embedded `config/local.toml` (no
/// `--config`), or the built-in value a `--config` file that does not set
/// the key gets.
#[derive(Debug, Clone, Copy)]
enum Defaults {
    Embedded,
    InFile,
}

/// What `key` is by default, as `--help` shows it: `None` when it is
/// unset, or a path (whose default the description gives).
fn default_text(key: &Key, from: Defaults) -> Option<String> {
    static EMBEDDED: OnceLock<toml::Table> = OnceLock::new();
    static IN_FILE: OnceLock<toml::Table> = OnceLock::new();
    let defaults = match from {
        Defaults::Embedded => EMBEDDED.get_or_init(|| {
            LoadedConfig::load_layered(None, &[])
                .ok()
                .and_then(|l| toml::Table::try_from(&l.config).ok())
                .unwrap_or_default()
        }),
        Defaults::InFile => IN_FILE.get_or_init(|| {
            toml::Table::try_from(crate::config::DaemonConfig::default()).unwrap_or_default()
        }),
    };
    if key.kind == crate::config::Kind::Path {
        return None;
    }
    let value = defaults.get(key.section.name())?.get(key.name)?;
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) if items.is_empty() => "\"\"".to_owned(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        toml::Value::Float(f) => f.to_string(),
        other => other.to_string(),
    })
}

/// `corral master`, `agent` or `local`: which flags it takes.
pub trait Daemon: fmt::Debug + Clone + Copy + Send + Sync + 'static {
    /// The flags, in `--help` order (after `--config`).
    fn flags() -> Vec<DaemonFlag>;
}

/// `corral master`.
#[derive(Debug, Clone, Copy)]
pub struct MasterDaemon;

/// `corral agent`.
#[derive(Debug, Clone, Copy)]
pub struct AgentDaemon;

/// `corral local`.
#[derive(Debug, Clone, Copy)]
pub struct LocalDaemon;

impl Daemon for MasterDaemon {
    fn flags() -> Vec<DaemonFlag> {
        keys_of(Section::Master)
            .map(DaemonFlag::of)
            .chain(DaemonFlag::of_module_keys(&[
                "manifest",
                "allocator",
                "hooks",
                "master_contender",
                "master_detector",
            ]))
            .collect()
    }
}

impl Daemon for AgentDaemon {
    fn flags() -> Vec<DaemonFlag> {
        keys_of(Section::Agent)
            .map(DaemonFlag::of)
            .chain(DaemonFlag::of_module_keys(&[
                "manifest",
                "isolation",
                "isolation_unprivileged",
                "hooks",
                "master_detector",
            ]))
            .collect()
    }
}

impl Daemon for LocalDaemon {
    fn flags() -> Vec<DaemonFlag> {
        let master = |name| key(Section::Master, name).expect("a [master] key");
        let agent = |name| key(Section::Agent, name).expect("an [agent] key");
        [
            DaemonFlag {
                long: "ip",
                keys: vec![master("ip"), agent("ip")],
                help: Some("The address master and agent listen on"),
            },
            DaemonFlag {
                long: "port",
                keys: vec![master("port")],
                help: Some("The master's port (the agent picks a free one)"),
            },
            DaemonFlag::of(agent("work_dir")),
            DaemonFlag::of(agent("resources")),
        ]
        .into_iter()
        .chain(DaemonFlag::of_module_keys(&[
            "manifest",
            "allocator",
            "isolation",
            "isolation_unprivileged",
            "hooks",
        ]))
        .collect()
    }
}

/// The arguments of a daemon: `--config` and a flag per configuration key,
/// each kept as an [`Override`] of its keys.
#[derive(Debug, Clone)]
pub struct DaemonArgs<D> {
    /// `--config` (or `CORRAL_CONFIG`); the embedded `config/local.toml`
    /// when `None`.
    pub config: Option<PathBuf>,
    /// The flags given, as overrides of their keys.
    pub flags: Vec<Override>,
    daemon: PhantomData<D>,
}

pub type MasterArgs = DaemonArgs<MasterDaemon>;
pub type AgentArgs = DaemonArgs<AgentDaemon>;
pub type LocalArgs = DaemonArgs<LocalDaemon>;

impl<D> Default for DaemonArgs<D> {
    fn default() -> Self {
        DaemonArgs {
            config: None,
            flags: Vec::new(),
            daemon: PhantomData,
        }
    }
}

impl<D: Daemon> DaemonArgs<D> {
    /// The configuration file (or the embedded defaults), then the
    /// `CORRAL_*` variables among `env`, then the flags.
    pub fn load_config<I, N, V>(&self, env: I) -> Result<LoadedConfig, ConfigError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<OsString>,
        V: Into<OsString>,
    {
        let mut layers = Override::from_env(env)?;
        layers.extend(self.flags.iter().cloned());
        LoadedConfig::load_layered(self.config.as_deref(), &layers)
    }
}

impl<D: Daemon> clap::FromArgMatches for DaemonArgs<D> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(config) = matches.get_one::<PathBuf>("config") {
            self.config = Some(config.clone());
        }
        for flag in D::flags() {
            if let Some(raw) = matches.get_one::<String>(flag.long) {
                self.flags.retain(|o| o.origin != Origin::Flag(flag.long));
                for key in &flag.keys {
                    self.flags.push(Override::flag(flag.long, key, raw.clone()));
                }
            }
        }
        Ok(())
    }
}

impl<D: Daemon> clap::Args for DaemonArgs<D> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = cmd
            .arg(
                Arg::new("config")
                    .long("config")
                    .env("CORRAL_CONFIG")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(
                        "Configuration file with [modules], [master] and [agent] tables; \
                         the embedded config/local.toml when omitted",
                    ),
            )
            .after_help(
                "Precedence: a flag, then its CORRAL_* variable, then the --config file, \
                 then the default. The variable CORRAL_<TABLE>_<KEY> of a flag names the \
                 key it sets: CORRAL_AGENT_WORK_DIR is work_dir in [agent]. Lists are \
                 comma-separated. See docs/configuration.md.",
            );
        D::flags().into_iter().fold(cmd, |cmd, flag| {
            let heading = match flag.keys[0].section {
                Section::Modules => Some("Modules"),
                Section::Master | Section::Agent => None,
            };
            cmd.arg(
                Arg::new(flag.long)
                    .long(flag.long)
                    .value_name(flag.keys[0].value_name)
                    .help(flag.help_text())
                    .help_heading(heading),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// How long an operator command given `--master zk://...` waits for a
/// leader.
const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Command {
    /// The `--master` of an operator command.
    fn master_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Execute { master, .. }
            | Command::Ps { master, .. }
            | Command::Tail { master, .. }
            | Command::State { master }
            | Command::Events { master, .. } => Some(master),
            _ => None,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(
    cli: Cli,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> std::io::Result<bool> {
    let mut command = cli.command;
    if let Some(master) = command.master_mut() {
        if leader::is_detected(master) {
            match leader::resolve(master, LEADER_WAIT).await {
                Ok(leader) => *master = leader,
                Err(e) => {
                    let shown = crate::domain::master_detection::shown(master);
                    writeln!(err, "error: --master {shown}: {e}")?;
                    return Ok(false);
                }
            }
        }
    }
    match command {
        Command::Local(args) => daemons::local(args, out, err).await,
        Command::Master(args) => daemons::master(args, err).await,
        Command::Agent(args) => daemons::agent(args, err).await,
        Command::Execute {
            master,
            command,
            resources,
            name,
        } => execute::run(&master, &command, &resources, &name, out, err).await,
        Command::Ps { master, all } => ps::run(&master, all, out, err).await,
        Command::Tail {
            master,
            task_id,
            file,
            follow,
        } => tail::run(&master, &task_id, &file, follow, out, err).await,
        Command::State { master } => summary::run(&master, out, err).await,
        Command::Events {
            master,
            count,
            json,
            heartbeats,
        } => {
            let options = events::EventsOptions {
                count,
                json,
                heartbeats,
            };
            events::run(&master, options, out, err).await
        }
        Command::Modules { command } => modules_cmd::run(command, out, err),
        Command::Allocator { command } => simulate::run(command, out, err),
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
