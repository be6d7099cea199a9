//! `corral master`, `corral agent` and `corral local`: configuration, modules
//! and listeners wired into the daemons, which run until Ctrl-C or SIGTERM.

use crate::domain::{
    acls::Acls,
    auth::{Credential, Credentials, HttpAuth},
};
use std::{io::Write, time::Duration};

use tokio::{net::TcpListener, sync::watch};

use super::{
    modules_cmd::{print_modules, report},
    AgentArgs, Daemon, DaemonArgs, LocalArgs, MasterArgs,
};
use crate::{
    agent::{AgentConfig, AgentModules, ResourceOverrides},
    config::{keys::key, AgentSection, LoadedConfig, MasterSection, Section},
    domain::{parse_resources, ResourceValue},
    master::{MasterConfig, MasterModules},
    module_host::{Instances, ModuleRegistry},
    server,
};

type Out<'a> = &'a mut (dyn Write + Send);

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value.clamp(0.001, 1e9))
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a daemon asked to stop
/// right after it starts listening stops cleanly instead of dying.
fn terminated() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = recv(&mut term) => {}
            _ = recv(&mut int) => {}
        }
    }
}

/// Where `name` of `section` was set: the flag or variable with its value,
/// or the file.
fn origin(loaded: &LoadedConfig, section: Section, name: &str) -> String {
    key(section, name).map_or_else(
        || loaded.source.display().to_string(),
        |k| loaded.origin_of(k),
    )
}

/// Listens on `ip:port`; an error names where they were set.
async fn listen(
    loaded: &LoadedConfig,
    section: Section,
    ip: &str,
    port: u16,
    err: Out<'_>,
) -> std::io::Result<Option<TcpListener>> {
    match TcpListener::bind((ip, port)).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) => {
            writeln!(
                err,
                "error: cannot listen on {ip}:{port} ({section} ip from {}, port from {}): {e}",
                origin(loaded, section, "ip"),
                origin(loaded, section, "port"),
            )?;
            Ok(None)
        }
    }
}

/// The configuration (file, `CORRAL_*` variables, flags) and its modules.
fn load<D: Daemon>(
    args: &DaemonArgs<D>,
    err: Out<'_>,
) -> std::io::Result<Option<(LoadedConfig, ModuleRegistry)>> {
    let loaded = match args.load_config(std::env::vars_os()) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    tracing::info!(configuration = %loaded.describe(), "configuration loaded");
    tracing::debug!(config = ?loaded.config, "effective configuration");
    let (registry, errors) = loaded.load_modules();
    if !report(&errors, err)? {
        return Ok(None);
    }
    Ok(Some((loaded, registry)))
}

fn instantiate(
    selection: &crate::module_host::Selection,
    registry: &ModuleRegistry,
    err: Out<'_>,
) -> std::io::Result<Option<Instances>> {
    match registry.instantiate(selection) {
        Ok(i) => Ok(Some(i)),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(None)
        }
    }
}

fn master_parts(
    section: &MasterSection,
    instances: Instances,
    source: &str,
    err: Out<'_>,
) -> std::io::Result<Option<(MasterConfig, MasterModules)>> {
    let Some(allocator) = instances.allocator else {
        writeln!(
            err,
            "error: {source}: no allocator module selected; set `allocator` in [modules], \
             CORRAL_MODULES_ALLOCATOR or --allocator"
        )?;
        return Ok(None);
    };
    let auth = match master_auth(section) {
        Ok(auth) => auth,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    warn_if_open(&section.ip, "master", auth.any());
    let acls = match section.acls.as_deref().map(Acls::load).transpose() {
        Ok(acls) => acls.map(std::sync::Arc::new),
        Err(e) => {
            writeln!(err, "error: [master] acls: {e}")?;
            return Ok(None);
        }
    };
    let tls = match tls_files("master", &section.tls_cert, &section.tls_key) {
        Ok(tls) => tls,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    let config = MasterConfig {
        auth,
        acls,
        tls,
        hostname: section
            .hostname
            .clone()
            .unwrap_or_else(|| section.ip.clone()),
        heartbeat_interval: secs(section.heartbeat_interval_secs),
        allocation_interval: secs(section.allocation_interval_secs),
        agent_ping_interval: secs(section.agent_ping_interval_secs),
        agent_timeout: secs(section.agent_timeout_secs),
        registry: section.registry.clone(),
        zk: section.zk.clone(),
        agent_reregister_timeout: secs(section.agent_reregister_timeout_secs),
        recovery_agent_removal_limit: section.recovery_agent_removal_limit,
        ..MasterConfig::default()
    };
    Ok(Some((
        config,
        MasterModules {
            allocator,
            hooks: instances.hooks,
        },
    )))
}

/// Credentials from `path`, needed when any of `switches` (named) is on.
fn credentials_for(
    path: Option<&std::path::Path>,
    table: &str,
    key: &str,
    switches: &[(&str, bool)],
) -> Result<Option<std::sync::Arc<Credentials>>, String> {
    match path {
        Some(path) => Credentials::load(path)
            .map(|c| Some(std::sync::Arc::new(c)))
            .map_err(|e| format!("[{table}] {key}: {e}")),
        None => match switches.iter().find(|(_, on)| *on) {
            Some((name, _)) => Err(format!(
                "[{table}] {name} is on but no {key} file is set: nobody could authenticate"
            )),
            None => Ok(None),
        },
    }
}

fn master_auth(section: &MasterSection) -> Result<HttpAuth, String> {
    let switches = [
        ("authenticate_frameworks", section.authenticate_frameworks),
        ("authenticate_agents", section.authenticate_agents),
        (
            "authenticate_http_readonly",
            section.authenticate_http_readonly,
        ),
        (
            "authenticate_http_readwrite",
            section.authenticate_http_readwrite,
        ),
    ];
    Ok(HttpAuth {
        credentials: credentials_for(
            section.credentials.as_deref(),
            "master",
            "credentials",
            &switches,
        )?,
        frameworks: section.authenticate_frameworks,
        agents: section.authenticate_agents,
        http_readonly: section.authenticate_http_readonly,
        http_readwrite: section.authenticate_http_readwrite,
    })
}

/// A daemon's certificate and key: both or neither.
fn tls_files(
    table: &str,
    cert: &Option<std::path::PathBuf>,
    key: &Option<std::path::PathBuf>,
) -> Result<Option<crate::domain::auth::TlsFiles>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(crate::domain::auth::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("[{table}] tls_cert is set but tls_key is not")),
        (None, Some(_)) => Err(format!("[{table}] tls_key is set but tls_cert is not")),
    }
}

/// A daemon reachable from other machines with nothing authenticated says
/// so loudly.
fn warn_if_open(ip: &str, daemon: &str, authenticated: bool) {
    let loopback = ip
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !loopback && !authenticated {
        tracing::warn!(
            ip,
            "the {daemon} listens on a non-loopback address with no authentication: anyone who \
             reaches it can act as any framework, agent or operator (see docs/security.md)"
        );
    }
}

fn overrides(text: Option<&str>) -> Result<ResourceOverrides, String> {
    let mut o = ResourceOverrides::default();
    for r in parse_resources(text.unwrap_or("")).map_err(|e| e.to_string())? {
        match (r.name.as_str(), r.value) {
            ("cpus", ResourceValue::Scalar(v)) => o.cpus = Some(v),
            ("mem", ResourceValue::Scalar(v)) => o.mem = Some(v),
            ("disk", ResourceValue::Scalar(v)) => o.disk = Some(v),
            ("ports", ResourceValue::Ranges(r)) => o.ports = Some(r),
            (name, _) => {
                return Err(format!(
                    "'{name}' cannot be set here (cpus, mem, disk and ports can)"
                ))
            }
        }
    }
    Ok(o)
}

fn agent_config(
    section: &AgentSection,
    master: String,
    loaded: &LoadedConfig,
) -> Result<AgentConfig, String> {
    let work_dir = section
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("corral"));
    // Absolute from the start: sandboxes, `ContainerConfig.sandbox` and the
    // paths `/files/*` serve are all made from it.
    let work_dir = std::path::absolute(&work_dir).map_err(|e| {
        format!(
            "work_dir {}: cannot make it absolute: {e}",
            work_dir.display()
        )
    })?;
    let program =
        std::env::current_exe().map_err(|e| format!("cannot find the corral executable: {e}"))?;
    let mut config = AgentConfig::new(master, work_dir, program);
    config.hostname = section
        .hostname
        .clone()
        .unwrap_or_else(|| section.ip.clone());
    config.resources = overrides(section.resources.as_deref()).map_err(|e| {
        format!(
            "{}: [agent] resources: {e}",
            origin(loaded, Section::Agent, "resources")
        )
    })?;
    config.status_update_retry = secs(section.status_update_retry_secs);
    config.executor_registration_timeout = secs(section.executor_registration_timeout_secs);
    config.executor_shutdown_grace = secs(section.executor_shutdown_grace_secs);
    config.executor_heartbeat_interval = secs(section.executor_heartbeat_interval_secs);
    config.master_timeout = secs(section.master_timeout_secs);
    config.cgroups_root = section.cgroups_root.clone();
    config.credential = section
        .credential
        .as_deref()
        .map(Credential::load)
        .transpose()
        .map_err(|e| format!("[agent] credential: {e}"))?;
    config.http_auth = HttpAuth {
        credentials: credentials_for(
            section.http_credentials.as_deref(),
            "agent",
            "http_credentials",
            &[(
                "authenticate_http_readonly",
                section.authenticate_http_readonly,
            )],
        )?,
        http_readonly: section.authenticate_http_readonly,
        ..HttpAuth::default()
    };
    config.authenticate_executors = section.authenticate_http_executors;
    config.switch_user = section.switch_user;
    config.tls = tls_files("agent", &section.tls_cert, &section.tls_key)?;
    config.tls_ca = section.tls_ca.clone();
    config.acls = section
        .acls
        .as_deref()
        .map(Acls::load)
        .transpose()
        .map_err(|e| format!("[agent] acls: {e}"))?
        .map(std::sync::Arc::new);
    if config.switch_user && !crate::config::running_as_root() {
        tracing::warn!("switch_user is on but the agent does not run as root: containers run as the agent's user");
    }
    warn_if_open(
        &section.ip,
        "agent",
        config.http_auth.http_readonly && config.authenticate_executors,
    );
    Ok(config)
}

pub async fn master(args: MasterArgs, err: Out<'_>) -> std::io::Result<bool> {
    let stop = terminated();
    let Some((loaded, registry)) = load(&args, err)? else {
        return Ok(false);
    };
    let Some(instances) = instantiate(&loaded.master_selection(), &registry, err)? else {
        return Ok(false);
    };
    let source = origin(&loaded, Section::Modules, "allocator");
    let section = loaded.config.master.clone();
    let Some((config, modules)) = master_parts(&section, instances, &source, err)? else {
        return Ok(false);
    };
    let election = match &section.zk {
        Some(url) => match election(&loaded, &registry, url) {
            Ok(e) => Some(e),
            Err(e) => {
                writeln!(err, "error: {e}")?;
                return Ok(false);
            }
        },
        None => None,
    };
    let Some(listener) = listen(&loaded, Section::Master, &section.ip, section.port, err).await?
    else {
        return Ok(false);
    };
    match election {
        Some(election) => {
            server::master_ha::run(listener, config, modules, election, stop).await?;
        }
        None => server::master::run(listener, config, modules, stop).await?,
    }
    Ok(true)
}

/// The election a master given `zk` joins: the URL checked, and the
/// contender and detector modules the configuration names.
fn election(
    loaded: &LoadedConfig,
    registry: &ModuleRegistry,
    url: &str,
) -> Result<server::master_ha::Election, String> {
    let at = origin(loaded, Section::Master, "zk");
    crate::domain::master_detection::ZkUrl::parse(url)
        .map_err(|e| format!("{at}: [master] zk: {e}"))?;
    let modules = &loaded.config.modules;
    let source = origin(loaded, Section::Modules, "master_contender");
    let contender = registry
        .create_master_contender(&modules.master_contender, &source)
        .map_err(|e| e.to_string())?;
    let source = origin(loaded, Section::Modules, "master_detector");
    let detector = registry
        .create_master_detector(&modules.master_detector, &source)
        .map_err(|e| e.to_string())?;
    Ok(server::master_ha::Election {
        url: url.to_owned(),
        contender,
        detector,
    })
}

pub async fn agent(args: AgentArgs, err: Out<'_>) -> std::io::Result<bool> {
    let stop = terminated();
    let Some((loaded, registry)) = load(&args, err)? else {
        return Ok(false);
    };
    let section = loaded.config.agent.clone();
    let Some(master) = section.master.clone() else {
        writeln!(
            err,
            "error: no master given: pass --master HOST:PORT, set CORRAL_AGENT_MASTER, \
             or set `master` in [agent] of {}",
            loaded.source.display()
        )?;
        return Ok(false);
    };
    let summary = isolation_summary(&loaded);
    if crate::config::running_as_root() {
        tracing::info!("{summary}");
    } else {
        tracing::warn!("{summary}");
    }
    let Some(instances) = instantiate(&loaded.agent_selection(), &registry, err)? else {
        return Ok(false);
    };
    let mut config = match agent_config(&section, master.clone(), &loaded) {
        Ok(c) => c,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(false);
        }
    };
    // Kept until the agent stops: dropping it stops following the leader.
    let _followed = if super::leader::is_detected(&master) {
        let source = origin(&loaded, Section::Modules, "master_detector");
        let detector = &loaded.config.modules.master_detector;
        match super::leader::follow(&registry, detector, &source, &master).await {
            Ok(followed) => {
                config.leader = Some(followed.leader.clone());
                Some(followed)
            }
            Err(e) => {
                writeln!(
                    err,
                    "error: --master {} (from {}): {e}",
                    crate::domain::master_detection::shown(&master),
                    origin(&loaded, Section::Agent, "master")
                )?;
                return Ok(false);
            }
        }
    } else {
        None
    };
    let Some(listener) = listen(&loaded, Section::Agent, &section.ip, section.port, err).await?
    else {
        return Ok(false);
    };
    server::agent::run(
        listener,
        config,
        AgentModules {
            hooks: instances.hooks,
            isolators: instances.isolators,
        },
        stop,
    )
    .await?;
    Ok(true)
}

/// Which isolation the agent uses and why, for operators.
fn isolation_summary(loaded: &LoadedConfig) -> String {
    let list = loaded.effective_isolation();
    let names = if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    };
    let unprivileged = loaded.config.modules.isolation_unprivileged.is_some();
    match (crate::config::running_as_root(), unprivileged) {
        (true, _) => format!("isolation: {names} (running as root)"),
        (false, true) => format!(
            "isolation: {names} (not running as root: no namespaces or cgroups, usage only)"
        ),
        (false, false) => format!("isolation: {names} (not running as root)"),
    }
}

pub async fn local(args: LocalArgs, out: Out<'_>, err: Out<'_>) -> std::io::Result<bool> {
    let terminate = terminated();
    let Some((loaded, registry)) = load(&args, err)? else {
        return Ok(false);
    };
    // Master and agent each get their own module instances.
    let Some(master_instances) = instantiate(&loaded.master_selection(), &registry, err)? else {
        return Ok(false);
    };
    let Some(agent_instances) = instantiate(&loaded.agent_selection(), &registry, err)? else {
        return Ok(false);
    };
    let source = origin(&loaded, Section::Modules, "allocator");
    let section = loaded.config.master.clone();
    let Some((master_config, master_modules)) =
        master_parts(&section, master_instances, &source, err)?
    else {
        return Ok(false);
    };
    let Some(master_listener) =
        listen(&loaded, Section::Master, &section.ip, section.port, err).await?
    else {
        return Ok(false);
    };
    let master_addr = master_listener.local_addr()?;
    let agent_ip = loaded.config.agent.ip.clone();
    let Some(agent_listener) = listen(&loaded, Section::Agent, &agent_ip, 0, err).await? else {
        return Ok(false);
    };
    let agent_addr = agent_listener.local_addr()?;
    let agent_config = match agent_config(&loaded.config.agent, master_addr.to_string(), &loaded) {
        Ok(c) => c,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(false);
        }
    };
    // The banner is for whoever started us; a closed stdout (a supervisor
    // that stopped reading) must not take the cluster down.
    let banner = (|| -> std::io::Result<()> {
        writeln!(out, "corral local: configuration {}", loaded.describe())?;
        print_modules(&registry, out)?;
        writeln!(out, "{}", isolation_summary(&loaded))?;
        writeln!(
            out,
            "master: http://{master_addr}   agent: http://{agent_addr}   work dir: {}",
            agent_config.work_dir.display()
        )?;
        writeln!(
            out,
            "try:    corral execute --master {master_addr} --command 'echo hello'"
        )?;
        out.flush()
    })();
    if let Err(e) = banner {
        tracing::warn!(error = %e, "cannot write the banner to stdout; running on");
    }

    let (stop, stopped) = watch::channel(false);
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let master = tokio::spawn(server::master::run(
        master_listener,
        master_config,
        master_modules,
        wait(stopped.clone()),
    ));
    let agent = tokio::spawn(server::agent::run(
        agent_listener,
        agent_config,
        AgentModules {
            hooks: agent_instances.hooks,
            isolators: agent_instances.isolators,
        },
        wait(stopped),
    ));
    terminate.await;
    let _ = stop.send(true);
    let (m, a) = tokio::join!(master, agent);
    m.map_err(std::io::Error::other)??;
    a.map_err(std::io::Error::other)??;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_without_credentials_is_an_error_naming_the_switch() {
        let section = MasterSection {
            authenticate_agents: true,
            ..MasterSection::default()
        };
        let e = master_auth(&section).unwrap_err();
        assert!(
            e.contains("[master] authenticate_agents is on but no credentials file"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        std::fs::write(
            &path,
            r#"{"credentials": [{"principal": "a", "secret": "b"}]}"#,
        )
        .unwrap();
        let auth = master_auth(&MasterSection {
            credentials: Some(path),
            authenticate_frameworks: true,
            ..MasterSection::default()
        })
        .unwrap();
        assert!(auth.frameworks && !auth.agents);
        assert!(auth.credentials.unwrap().verify("a", "b"));
        let missing = master_auth(&MasterSection {
            credentials: Some(dir.path().join("nope.json")),
            ..MasterSection::default()
        })
        .unwrap_err();
        assert!(missing.contains("nope.json"), "{missing}");
    }
}
