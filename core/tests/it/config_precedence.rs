//! Configuration: every key in the example files, precedence file <
//! `CORRAL_*` variable < flag, errors that name the key and where it was
//! set, `--help` listing every key as a flag, and the logging flags.

use std::{
    collections::BTreeMap,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use clap::Parser;
use corral::{
    cli::{Cli, Command as Sub, LogFormat, LogSettings},
    config::{AgentSection, DaemonConfig, LoadedConfig, MasterSection, ModulesConfig, Override},
    module_host::Manifest,
};
use corral_tests::{module_library, output_within, wait_or_kill, PROCESS_TIMEOUT};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn modules_dir() -> PathBuf {
    module_library("corral_hook_env")
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `corral <args>` with `env` added, no `CORRAL_*` from the test's own
/// environment, and modules found where cargo built them.
fn corral(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_corral"));
    for (var, _) in std::env::vars() {
        if var.starts_with("CORRAL_") {
            command.env_remove(var);
        }
    }
    command
        .args(args)
        .env("CORRAL_MODULE_PATH", modules_dir())
        .envs(env.iter().copied());
    command
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    output_within(
        &mut corral(args, env),
        PROCESS_TIMEOUT,
        &format!("corral {}", args.join(" ")),
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every key of every table, found from the tables themselves (serialized
/// with every optional key set), not from Corral's list of keys.
fn keys_by_table() -> BTreeMap<String, Vec<String>> {
    let full = DaemonConfig {
        modules: ModulesConfig {
            manifest: Some("m.toml".into()),
            allocator: Some("a".into()),
            isolation: vec![],
            isolation_unprivileged: Some(vec![]),
            hooks: vec![],
            master_contender: "c".into(),
            master_detector: "d".into(),
        },
        master: MasterSection {
            hostname: Some("h".into()),
            zk: Some("zk://h:2181/corral".into()),
            registry: Some("/r.redb".into()),
            credentials: Some("/c.json".into()),
            acls: Some("/a.json".into()),
            tls_cert: Some("/cert.pem".into()),
            tls_key: Some("/key.pem".into()),
            ..MasterSection::default()
        },
        agent: AgentSection {
            hostname: Some("h".into()),
            master: Some("m:1".into()),
            work_dir: Some("/w".into()),
            resources: Some("cpus:1".into()),
            credential: Some("/c.json".into()),
            http_credentials: Some("/h.json".into()),
            acls: Some("/a.json".into()),
            tls_cert: Some("/cert.pem".into()),
            tls_key: Some("/key.pem".into()),
            tls_ca: Some("/ca.pem".into()),
            ..AgentSection::default()
        },
    };
    toml::Table::try_from(&full)
        .unwrap()
        .into_iter()
        .map(|(table, keys)| (table, keys.as_table().unwrap().keys().cloned().collect()))
        .collect()
}

fn env_var(table: &str, key: &str) -> String {
    format!("CORRAL_{}_{}", table.to_uppercase(), key.to_uppercase())
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The lines of `help` describing `--flag`: its own and the next one (long
/// help puts the description under the flag).
fn described(help: &str, flag: &str) -> Option<String> {
    let lines: Vec<&str> = help.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{flag} <")))?;
    Some(lines[at..(at + 2).min(lines.len())].join("\n"))
}

#[test]
fn help_lists_every_key_as_a_flag_with_its_variable() {
    let keys = keys_by_table();
    let module_flags: &[(&str, &[&str])] = &[
        ("master", &["manifest", "allocator", "hooks"]),
        (
            "agent",
            &["manifest", "isolation", "isolation_unprivileged", "hooks"],
        ),
    ];
    for (daemon, modules) in module_flags {
        let output = run(&[daemon, "--help"], &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        let help = String::from_utf8(output.stdout).unwrap();
        let wanted = keys[*daemon]
            .iter()
            .map(|k| (*daemon, k.as_str()))
            .chain(modules.iter().map(|k| ("modules", *k)));
        for (table, key) in wanted {
            let text = described(&help, &flag(key))
                .unwrap_or_else(|| panic!("corral {daemon} --help lacks {}:\n{help}", flag(key)));
            assert!(
                text.contains(&format!("[env: {}]", env_var(table, key))),
                "corral {daemon} --help: {} does not name its variable:\n{text}",
                flag(key)
            );
            let description = text.split("[env:").next().unwrap();
            assert!(
                description.split_whitespace().count() > 3,
                "corral {daemon} --help: {} has no description:\n{text}",
                flag(key)
            );
        }
        for logging in [
            "--log-level <FILTER>",
            "--log-format <FORMAT>",
            "--config <FILE>",
        ] {
            assert!(
                help.contains(logging),
                "corral {daemon} --help lacks {logging}"
            );
        }
        assert!(
            help.contains("Precedence: a flag, then its CORRAL_* variable, then the --config file")
        );
    }

    let output = run(&["local", "--help"], &[]);
    let help = String::from_utf8(output.stdout).unwrap();
    for local in [
        "--ip",
        "--port",
        "--work-dir",
        "--resources",
        "--allocator",
        "--isolation",
    ] {
        assert!(
            described(&help, local).is_some(),
            "corral local --help lacks {local}:\n{help}"
        );
    }
    assert!(
        help.contains("[env: CORRAL_MASTER_IP, CORRAL_AGENT_IP]"),
        "{help}"
    );
    // A default shown is the one a --config file gets too, or --help says
    // what the file gets instead.
    let allocator = described(&help, "--allocator").unwrap();
    assert!(
        allocator.contains("[default: org_corral_allocator_drf]"),
        "{allocator}"
    );
    let hooks = described(&help, "--hooks").unwrap();
    assert!(
        hooks.contains(
            "[default: org_corral_hook_env; \"\" in a --config file that does not set it]"
        ),
        "{hooks}"
    );
}

fn config_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_config_file_parses_with_and_without_overrides() {
    let files = config_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["agent.toml", "local.toml", "master.toml", "modules.toml"]
    );
    let env = Override::from_env([
        ("CORRAL_MASTER_PORT", "6000"),
        ("CORRAL_AGENT_WORK_DIR", "/srv/corral"),
        ("CORRAL_MODULES_HOOKS", ""),
        ("CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS", "0.5"),
    ])
    .unwrap();
    for file in &files {
        if file.ends_with("modules.toml") {
            let manifest = Manifest::load(file).unwrap();
            assert!(
                manifest.errors.is_empty(),
                "{}: {:?}",
                file.display(),
                manifest.errors
            );
            continue;
        }
        let plain = LoadedConfig::load_layered(Some(file), &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        let overridden = LoadedConfig::load_layered(Some(file), &env)
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        assert_eq!(overridden.master.port, 6000, "{}", file.display());
        assert_eq!(
            overridden.agent.work_dir.as_deref(),
            Some(Path::new("/srv/corral"))
        );
        assert!(overridden.modules.hooks.is_empty());
        assert_eq!(overridden.agent.executor_shutdown_grace_secs, 0.5);
        // Only the overridden keys change.
        let mut expected = plain.clone();
        expected.master.port = 6000;
        expected.agent.work_dir = Some("/srv/corral".into());
        expected.modules.hooks.clear();
        expected.agent.executor_shutdown_grace_secs = 0.5;
        assert_eq!(overridden, expected, "{}", file.display());
    }

    // The examples show the defaults.
    let master = LoadedConfig::load_layered(Some(&repo().join("config/master.toml")), &[]).unwrap();
    assert_eq!(master.config.master, MasterSection::default());
    let agent = LoadedConfig::load_layered(Some(&repo().join("config/agent.toml")), &[]).unwrap();
    assert_eq!(
        agent.config.agent,
        AgentSection {
            master: Some("127.0.0.1:5050".into()),
            ..AgentSection::default()
        }
    );
}

/// The keys a file shows in `table`, set or commented out, each with the
/// line just above it.
fn shown_keys(text: &str, table: &str) -> BTreeMap<String, String> {
    let mut current = String::new();
    let mut shown = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let bare = line.trim_start_matches('#').trim();
        if line.starts_with('[') {
            current = line.trim_matches(['[', ']']).to_owned();
        } else if current == table {
            if let Some((key, _)) = bare.split_once(" = ") {
                if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    let above = if i > 0 { lines[i - 1] } else { "" };
                    shown.insert(key.to_owned(), above.to_owned());
                }
            }
        }
    }
    shown
}

#[test]
fn the_example_files_show_and_comment_every_key() {
    let keys = keys_by_table();
    let examples = [
        (
            "master.toml",
            "master",
            vec![
                "manifest",
                "allocator",
                "hooks",
                "master_contender",
                "master_detector",
            ],
        ),
        (
            "agent.toml",
            "agent",
            vec!["manifest", "isolation", "isolation_unprivileged", "hooks"],
        ),
    ];
    for (file, table, modules) in examples {
        let text = std::fs::read_to_string(repo().join("config").join(file)).unwrap();
        let shown = shown_keys(&text, table);
        let listed: Vec<&String> = shown.keys().collect();
        let mut all: Vec<&String> = keys[table].iter().collect();
        all.sort();
        assert_eq!(listed, all, "{file} shows every [{table}] key");
        let shown_modules = shown_keys(&text, "modules");
        for key in modules {
            assert!(
                shown_modules.contains_key(key),
                "{file} shows [modules] {key}"
            );
        }
        for (key, above) in shown.iter().chain(&shown_modules) {
            let comment = above.trim_start_matches('#').trim();
            assert!(
                above.starts_with('#') && !comment.contains(" = "),
                "{file}: `{key}` has no comment above it (found {above:?})"
            );
        }
    }
    let local = std::fs::read_to_string(repo().join("config/local.toml")).unwrap();
    for (key, above) in shown_keys(&local, "modules") {
        assert!(
            above.starts_with('#'),
            "local.toml: `{key}` has no comment above it"
        );
    }
}

#[test]
fn the_documentation_lists_every_key_variable_and_flag() {
    let docs = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    for (table, keys) in keys_by_table() {
        for key in keys {
            for needle in [format!("`{key}`"), env_var(&table, &key), flag(&key)] {
                assert!(
                    docs.contains(&needle),
                    "docs/configuration.md lacks {needle}"
                );
            }
        }
    }
    for needle in [
        "--log-level",
        "--log-format",
        "CORRAL_LOG",
        "CORRAL_LOG_FORMAT",
    ] {
        assert!(
            docs.contains(needle),
            "docs/configuration.md lacks {needle}"
        );
    }
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("corral.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Parses `corral <args>` and loads its configuration with `env`.
fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<DaemonConfig, String> {
    let cli = Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let loaded = match cli.command {
        Sub::Master(args) => args.load_config(env),
        Sub::Agent(args) => args.load_config(env),
        Sub::Local(args) => args.load_config(env),
        other => panic!("not a daemon: {other:?}"),
    };
    loaded.map(|l| l.config).map_err(|e| e.to_string())
}

#[test]
fn a_flag_wins_over_a_variable_which_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(
        dir.path(),
        "[master]\nport = 1\nagent_timeout_secs = 10\n\
         [agent]\nport = 1\nwork_dir = \"/file\"\nmaster = \"file:1\"\n\
         [modules]\nhooks = [\"file_hook\"]\n",
    );
    let config = file.to_str().unwrap();
    let env = [
        ("CORRAL_MASTER_PORT", "2"),
        ("CORRAL_MASTER_AGENT_TIMEOUT_SECS", "20"),
        ("CORRAL_AGENT_PORT", "2"),
        ("CORRAL_AGENT_WORK_DIR", "/env"),
        ("CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS", "2"),
        ("CORRAL_MODULES_HOOKS", "env_a,env_b"),
    ];

    // corral master: file 1, variable 2, flag 3.
    let flagged = [
        "master",
        "--config",
        config,
        "--port",
        "3",
        "--agent-timeout-secs",
        "30",
    ];
    let c = resolve(&flagged, &env).unwrap();
    assert_eq!((c.master.port, c.master.agent_timeout_secs), (3, 30.0));
    let c = resolve(&["master", "--config", config], &env).unwrap();
    assert_eq!((c.master.port, c.master.agent_timeout_secs), (2, 20.0));
    assert_eq!(c.modules.hooks, ["env_a", "env_b"]);
    let c = resolve(&["master", "--config", config], &[]).unwrap();
    assert_eq!((c.master.port, c.master.agent_timeout_secs), (1, 10.0));
    assert_eq!(c.modules.hooks, ["file_hook"]);
    let c = resolve(
        &["master", "--config", config, "--hooks", "flag_hook"],
        &env,
    )
    .unwrap();
    assert_eq!(c.modules.hooks, ["flag_hook"]);

    // corral agent: the same for its keys, the old flags included.
    let c = resolve(
        &[
            "agent",
            "--config",
            config,
            "--port",
            "3",
            "--work-dir",
            "/flag",
            "--master",
            "flag:3",
            "--resources",
            "cpus:2;mem:1024",
            "--executor-shutdown-grace-secs",
            "3",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(c.agent.port, 3);
    assert_eq!(c.agent.work_dir.as_deref(), Some(Path::new("/flag")));
    assert_eq!(c.agent.master.as_deref(), Some("flag:3"));
    assert_eq!(c.agent.resources.as_deref(), Some("cpus:2;mem:1024"));
    assert_eq!(c.agent.executor_shutdown_grace_secs, 3.0);
    let c = resolve(&["agent", "--config", config], &env).unwrap();
    assert_eq!(c.agent.port, 2);
    assert_eq!(c.agent.work_dir.as_deref(), Some(Path::new("/env")));
    assert_eq!(c.agent.master.as_deref(), Some("file:1"));
    assert_eq!(c.agent.executor_shutdown_grace_secs, 2.0);

    // corral local: --ip sets both, --port the master's.
    let c = resolve(
        &[
            "local",
            "--config",
            config,
            "--ip",
            "127.0.0.2",
            "--port",
            "3",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(
        (c.master.ip.as_str(), c.agent.ip.as_str()),
        ("127.0.0.2", "127.0.0.2")
    );
    assert_eq!((c.master.port, c.agent.port), (3, 2));
    let c = resolve(&["local", "--isolation", "posix/cpu,posix/mem"], &[]).unwrap();
    assert_eq!(c.modules.isolation, ["posix/cpu", "posix/mem"]);
    assert_eq!(
        c.modules.allocator.as_deref(),
        Some("org_corral_allocator_drf"),
        "embedded"
    );
}

#[test]
fn bad_flags_and_variables_are_errors_naming_them_and_the_key() {
    assert_eq!(
        resolve(&["master"], &[("CORRAL_MASTER_PORT", "abc")]).unwrap_err(),
        "CORRAL_MASTER_PORT='abc': [master] port: invalid digit found in string"
    );
    assert_eq!(
        resolve(&["master", "--port", "abc"], &[]).unwrap_err(),
        "--port='abc': [master] port: invalid digit found in string"
    );
    assert_eq!(
        resolve(&["agent", "--heartbeat-interval-secs", "1"], &[])
            .unwrap_err()
            .lines()
            .next()
            .unwrap(),
        "error: unexpected argument '--heartbeat-interval-secs' found",
        "a master flag is not an agent flag"
    );
    let err = resolve(&["agent"], &[("CORRAL_AGENT_WORKDIR", "/x")]).unwrap_err();
    assert!(
        err.starts_with("CORRAL_AGENT_WORKDIR: no such key in [agent]"),
        "{err}"
    );
    assert!(
        err.contains("CORRAL_AGENT_WORK_DIR"),
        "lists the right names: {err}"
    );
    let err = resolve(&["local", "--ip", "not-an-ip"], &[]).unwrap_err();
    assert_eq!(
        err,
        "--ip='not-an-ip': [master] ip: 'not-an-ip' is not an IP address"
    );
}

#[test]
fn the_binary_reports_bad_configuration_naming_the_key_and_where_it_was_set() {
    let output = run(&["master"], &[("CORRAL_MASTER_PORT", "abc")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim(),
        "error: CORRAL_MASTER_PORT='abc': [master] port: invalid digit found in string"
    );

    let output = run(
        &["agent", "--master", "127.0.0.1:1"],
        &[("CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS", "-5")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim(),
        "error: CORRAL_AGENT_EXECUTOR_SHUTDOWN_GRACE_SECS='-5': \
         [agent] executor_shutdown_grace_secs: must be a positive number of seconds, not -5"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[master]\nport = 5050\nprot = 5051\n");
    let output = run(&["master", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: {}: [master] prot: unknown field `prot`",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("(line 3, column 1)"), "{err}");

    let file = write_config(dir.path(), "[agent]\nwork_dir = 7\n");
    let output = run(&["local", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim(),
        format!(
            "error: {}: [agent] work_dir: invalid type: integer `7`, expected path string \
             (line 2, column 12)",
            file.display()
        )
    );
}

/// A port nothing listens on (at the time of asking).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Starts `corral master`, waits until `port` accepts connections, and
/// says which of `ports` do; then stops it with SIGTERM.
fn master_listening_on(args: &[&str], env: &[(&str, &str)], port: u16, ports: &[u16]) -> Vec<u16> {
    let child: Child = corral(args, env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A failed test still leaves no master running.
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let mut child = Killed(child);
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    while !listening(port) {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!("corral master exited ({status}): {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "corral master never listened on {port} within {PROCESS_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let open = ports.iter().copied().filter(|p| listening(*p)).collect();
    let pid = nix::unistd::Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_or_kill(&mut child.0, PROCESS_TIMEOUT, "corral master after SIGTERM");
    assert!(status.success(), "corral master stopped with {status}");
    open
}

#[test]
fn a_master_listens_where_the_flag_then_the_variable_then_the_file_says() {
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let ports = [file_port, env_port, flag_port];
    // config/master.toml with its port changed and its manifest found.
    let example = std::fs::read_to_string(repo().join("config/master.toml")).unwrap();
    let manifest = repo().join("config/modules.toml");
    let text = example
        .replace("port = 5050", &format!("port = {file_port}"))
        .replace(
            "manifest = \"modules.toml\"",
            &format!("manifest = {:?}", manifest.display().to_string()),
        );
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), &text);
    let config = file.to_str().unwrap();
    let env_value = env_port.to_string();
    let env = [
        ("CORRAL_MASTER_PORT", env_value.as_str()),
        ("CORRAL_LOG", "warn"),
    ];
    let flag_value = flag_port.to_string();

    let open = master_listening_on(
        &["master", "--config", config, "--port", &flag_value],
        &env,
        flag_port,
        &ports,
    );
    assert_eq!(
        open,
        [flag_port],
        "file {file_port}, variable {env_port}, flag {flag_port}"
    );
    let open = master_listening_on(&["master", "--config", config], &env, env_port, &ports);
    assert_eq!(open, [env_port], "file {file_port}, variable {env_port}");
    let open = master_listening_on(
        &["master", "--config", config],
        &[("CORRAL_LOG", "warn")],
        file_port,
        &ports,
    );
    assert_eq!(open, [file_port], "file {file_port}");
}

#[test]
fn log_level_and_format_come_from_flags_then_variables() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).unwrap();
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |var: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        }
    };
    let master = parse(&["corral", "master"]);
    assert_eq!(
        master.log_settings(env(&[])).unwrap(),
        LogSettings {
            filter: "info".into(),
            format: LogFormat::Text
        }
    );
    let vars = env(&[("CORRAL_LOG", "debug"), ("CORRAL_LOG_FORMAT", "json")]);
    assert_eq!(
        master.log_settings(vars).unwrap(),
        LogSettings {
            filter: "debug".into(),
            format: LogFormat::Json
        }
    );
    let flagged = parse(&[
        "corral",
        "master",
        "--log-level",
        "warn,corral=trace",
        "--log-format",
        "text",
    ]);
    let vars = env(&[("CORRAL_LOG", "debug"), ("CORRAL_LOG_FORMAT", "json")]);
    assert_eq!(
        flagged.log_settings(vars).unwrap(),
        LogSettings {
            filter: "warn,corral=trace".into(),
            format: LogFormat::Text
        }
    );
    // Global flags: before the subcommand too.
    let before = parse(&["corral", "--log-format", "json", "agent"]);
    assert_eq!(
        before.log_settings(env(&[])).unwrap().format,
        LogFormat::Json
    );
    assert_eq!(
        master
            .log_settings(env(&[("CORRAL_LOG_FORMAT", "xml")]))
            .unwrap_err(),
        "CORRAL_LOG_FORMAT='xml': expected text or json"
    );
    let err = parse(&["corral", "master", "--log-level", "corral=loud"])
        .log_settings(env(&[]))
        .unwrap_err();
    assert!(
        err.starts_with("--log-level='corral=loud': not a log filter"),
        "{err}"
    );
    assert!(Cli::try_parse_from(["corral", "master", "--log-format", "xml"]).is_err());
}

#[test]
fn logs_go_to_stderr_as_json_or_text_at_the_level_asked() {
    // A master that logs its configuration, then stops: no such allocator.
    let args = [
        "master",
        "--port",
        "0",
        "--allocator",
        "org_corral_no_such_allocator",
    ];
    let json = run(&args, &[("CORRAL_LOG_FORMAT", "json")]);
    assert_eq!(json.status.code(), Some(1));
    assert!(json.stdout.is_empty());
    let err = stderr(&json);
    let first = err.lines().next().unwrap();
    let line: serde_json::Value =
        serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["fields"]["message"], "configuration loaded", "{line}");
    assert_eq!(
        line["fields"]["configuration"], "<embedded>/config/local.toml + --port, --allocator",
        "{line}"
    );
    assert!(err.contains("org_corral_no_such_allocator"), "{err}");

    let text = run(
        &[&args[..], &["--log-format", "text"]].concat(),
        &[("CORRAL_LOG_FORMAT", "json")],
    );
    let err = stderr(&text);
    let first = err.lines().next().unwrap();
    assert!(
        first.contains(" INFO ")
            && first.contains("configuration loaded")
            && !first.starts_with('{'),
        "the flag wins over CORRAL_LOG_FORMAT: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colours when stderr is not a terminal: {err}"
    );

    let quiet = run(
        &[&args[..], &["--log-level", "warn"]].concat(),
        &[("CORRAL_LOG", "debug")],
    );
    let err = stderr(&quiet);
    assert!(
        !err.contains("configuration loaded"),
        "--log-level warn: {err}"
    );
    assert!(err.contains("error: "), "{err}");
    let quiet = run(&args, &[("CORRAL_LOG", "warn")]);
    assert!(
        !stderr(&quiet).contains("configuration loaded"),
        "CORRAL_LOG=warn"
    );
}
