//! Loading, layering and checking configurations.

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
        Kind::Bool => ("true", toml::Value::Boolean(true)),
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

#[test]
fn a_file_without_allocator_gets_the_drf_allocator_and_agents_select_none() {
    let (_dir, path) = file("[modules]\nhooks = []\n");
    let loaded = LoadedConfig::load_layered(Some(&path), &[]).unwrap();
    assert_eq!(
        loaded.master_selection().allocator.as_deref(),
        Some(DEFAULT_ALLOCATOR)
    );
    let (_dir, path) = file("[agent]\nwork_dir = \"/w\"\n");
    let loaded = LoadedConfig::load_layered(Some(&path), &[]).unwrap();
    assert_eq!(
        loaded.config.modules.allocator.as_deref(),
        Some(DEFAULT_ALLOCATOR)
    );
    // Only masters allocate: an agent (also the one in `corral local`)
    // constructs no allocator.
    assert_eq!(loaded.agent_selection().allocator, None);
    assert_eq!(loaded.agent_selection().hooks, loaded.selection().hooks);
    let embedded = LoadedConfig::load_layered(None, &[]).unwrap();
    assert_eq!(
        embedded.config.modules.allocator.as_deref(),
        Some(DEFAULT_ALLOCATOR)
    );
}

#[test]
fn where_a_zk_url_was_set_is_shown_without_its_password() {
    let set = flag("zk", Section::Master, "zk://ops:s3cret@h:2181/corral");
    assert_eq!(set.to_string(), "--zk='zk://ops:***@h:2181/corral'");
    let from_env = env(&[("CORRAL_AGENT_MASTER", "zk://ops:s3cret@h/corral")]);
    let shown = from_env[0].to_string();
    assert!(
        !shown.contains("s3cret") && shown.contains("ops:***@"),
        "{shown}"
    );
    assert_eq!(
        flag("port", Section::Master, "5050").to_string(),
        "--port='5050'"
    );
}
