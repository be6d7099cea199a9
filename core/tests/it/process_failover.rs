//! Failures with real processes: `corral master` and `corral agent` run as
//! separate OS processes and are killed with SIGKILL or stopped with
//! SIGSTOP, as machines and operators do to them.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{task, Scheduler};
use corral::wire::codec::Encoding;
use corral_tests::{module_library, wait_or_kill};
use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::{json, Value};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn corral(args: &[&str]) -> Child {
    let modules = module_library("corral_hook_env")
        .parent()
        .unwrap()
        .to_path_buf();
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env("CORRAL_MODULE_PATH", modules)
        .env("CORRAL_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

pub(crate) fn signal(child: &Child, signal: Signal) {
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// A master process with a registry, and the means to kill and restart it.
struct MasterProcess {
    port: u16,
    registry: PathBuf,
    agent_timeout: &'static str,
    child: Child,
}

impl MasterProcess {
    fn start(registry: &Path, agent_timeout: &'static str) -> MasterProcess {
        let port = free_port();
        let child = Self::spawn(port, registry, agent_timeout);
        MasterProcess {
            port,
            registry: registry.to_owned(),
            agent_timeout,
            child,
        }
    }

    fn spawn(port: u16, registry: &Path, agent_timeout: &str) -> Child {
        corral(&[
            "master",
            "--port",
            &port.to_string(),
            "--registry",
            registry.to_str().unwrap(),
            "--allocation-interval-secs",
            "0.1",
            "--heartbeat-interval-secs",
            "1",
            "--agent-ping-interval-secs",
            "0.5",
            "--agent-timeout-secs",
            agent_timeout,
        ])
    }

    fn addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    fn kill_and_restart(&mut self) {
        signal(&self.child, Signal::SIGKILL);
        wait_or_kill(&mut self.child, KILL_TIMEOUT, "the master after SIGKILL");
        self.child = Self::spawn(self.port, &self.registry, self.agent_timeout);
    }
}

impl Drop for MasterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a process may take to go after SIGKILL.
pub(crate) const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// An agent process; its cgroups root is removed when it is dropped.
pub(crate) struct AgentProcess {
    pub(crate) child: Child,
    cgroups_root: String,
    work_dir: PathBuf,
    args: Vec<String>,
}

impl AgentProcess {
    fn start(master: &MasterProcess, work_dir: &Path) -> AgentProcess {
        Self::start_at(&format!("127.0.0.1:{}", master.port), work_dir, &[])
    }

    /// An agent registering with `master` (`host:port` or `zk://...`),
    /// with `extra` flags.
    pub(crate) fn start_at(master: &str, work_dir: &Path, extra: &[&str]) -> AgentProcess {
        // A fixed port: executors find a restarted agent where they left it.
        let port = free_port();
        let cgroups_root = format!("corral-test-{}-{port}", std::process::id());
        let mut args: Vec<String> = [
            "agent",
            "--master",
            master,
            "--port",
            &port.to_string(),
            "--work-dir",
            work_dir.to_str().unwrap(),
            "--resources",
            "cpus:2;mem:1024;disk:1000;ports:[31000-31100]",
            "--isolation",
            "",
            "--cgroups-root",
            &cgroups_root,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let child = corral(&args.iter().map(String::as_str).collect::<Vec<_>>());
        AgentProcess {
            child,
            cgroups_root,
            work_dir: work_dir.to_owned(),
            args,
        }
    }

    /// The port the agent serves on.
    fn port(&self) -> &str {
        let at = self.args.iter().position(|a| a == "--port").unwrap();
        &self.args[at + 1]
    }

    /// SIGKILL, then the same agent again (same port and work dir).
    fn kill_and_restart(&mut self) {
        signal(&self.child, Signal::SIGKILL);
        wait_or_kill(&mut self.child, KILL_TIMEOUT, "the agent after SIGKILL");
        self.child = corral(&self.args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Stops it with SIGTERM (it kills its executors and leaves).
    fn stop(&mut self) {
        assert!(
            self.try_stop(),
            "the agent did not stop within 20 s of SIGTERM"
        );
    }

    /// Stops it with SIGTERM; whether it stopped within 20 s.
    fn try_stop(&mut self) -> bool {
        signal(&self.child, Signal::SIGCONT);
        signal(&self.child, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

/// A failed test still leaves nothing running: an agent that does not
/// stop on SIGTERM is killed, and so are its executors (without panicking,
/// which would abort the whole test binary while unwinding).
impl Drop for AgentProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() && !self.try_stop() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (pid, _) in common::processes_under(&self.work_dir) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Ok(freezer) = corral::containerizer::Freezer::detect(&self.cgroups_root) {
            let _ = std::fs::remove_dir(freezer.base());
        }
    }
}

async fn get_json(url: String) -> Option<Value> {
    let response = common::http_client().get(&url).send().await.ok()?;
    let body = response.text().await.ok()?;
    serde_json::from_str(&body).ok()
}

/// Waits until `/master/slaves` lists an agent, and returns its id.
pub(crate) async fn wait_for_agent(master: std::net::SocketAddr, not: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(slaves) = get_json(format!("http://{master}/master/slaves")).await {
            let ids: Vec<&str> = slaves["slaves"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["active"] == true)
                .filter_map(|s| s["id"].as_str())
                .collect();
            if let Some(id) = ids.into_iter().find(|id| Some(*id) != not) {
                return id.to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agent registered with {master}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn framework_info(id: Option<&str>) -> Value {
    let mut info = json!({"user": "root", "name": "process-failover", "failover_timeout": 300.0});
    if let Some(id) = id {
        info["id"] = json!({"value": id});
    }
    info
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_with_sigkill_comes_back_and_reconciles_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let mut master = MasterProcess::start(&dir.path().join("registry.redb"), "60");
    let _agent = AgentProcess::start(&master, &dir.path().join("agent"));
    let agent_id = wait_for_agent(master.addr(), None).await;

    let mut s =
        Scheduler::subscribe_with(master.addr(), Encoding::Json, framework_info(None)).await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![
            task("long", &offer, "sleep 600", 0.1, 32.0),
            task("short", &offer, "true", 0.1, 32.0),
        ],
    )
    .await;
    assert_eq!(s.update_for("long").await["state"], "TASK_RUNNING");
    assert_eq!(s.update_for("short").await["state"], "TASK_RUNNING");
    assert_eq!(s.update_for("short").await["state"], "TASK_FINISHED");
    let framework_id = s.framework_id.clone();
    drop(s);

    master.kill_and_restart();
    // The agent comes back under its id; the framework re-subscribes with its.
    assert_eq!(wait_for_agent(master.addr(), None).await, agent_id);
    let mut s = Scheduler::subscribe_with(
        master.addr(),
        Encoding::Json,
        framework_info(Some(&framework_id)),
    )
    .await;
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": "long"}, "agent_id": {"value": agent_id}},
            {"task_id": {"value": "short"}, "agent_id": {"value": agent_id}},
        ]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let long = s.update_for("long").await;
    assert_eq!(long["state"], "TASK_RUNNING", "{long}");
    assert_eq!(long["reason"], "REASON_RECONCILIATION");
    let short = s.update_for("short").await;
    assert_eq!(short["state"], "TASK_FINISHED", "{short}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_agent_is_removed_its_tasks_lost_and_it_comes_back_as_a_new_agent() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterProcess::start(&dir.path().join("registry.redb"), "2");
    let mut agent = AgentProcess::start(&master, &dir.path().join("agent"));
    let agent_id = wait_for_agent(master.addr(), None).await;
    let mut s =
        Scheduler::subscribe_with(master.addr(), Encoding::Json, framework_info(None)).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("frozen", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("frozen").await["state"], "TASK_RUNNING");

    // The agent stops answering.
    signal(&agent.child, Signal::SIGSTOP);
    let lost = s.update_for("frozen").await;
    assert_eq!(lost["state"], "TASK_LOST", "{lost}");
    assert_eq!(lost["reason"], "REASON_AGENT_REMOVED");
    assert_eq!(lost["source"], "SOURCE_MASTER");

    // It comes back: told to shut its tasks down, it registers afresh.
    signal(&agent.child, Signal::SIGCONT);
    let new_id = wait_for_agent(master.addr(), Some(&agent_id)).await;
    assert_ne!(new_id, agent_id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::processes_under(&dir.path().join("agent")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the removed agent's task was not shut down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The task's end is reported under the agent id it ran on (not an
    // empty one, nor the new one), and its acknowledgement reaches the
    // agent: nothing is left to resend.
    let killed = s.update_for("frozen").await;
    assert_eq!(killed["state"], "TASK_KILLED", "{killed}");
    assert_eq!(killed["agent_id"]["value"], agent_id.as_str(), "{killed}");
    assert!(killed.get("uuid").is_some(), "{killed}");
    let metrics = format!("http://127.0.0.1:{}/metrics/snapshot", agent.port());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = get_json(metrics.clone())
            .await
            .and_then(|m| m["slave/status_updates_pending"].as_f64());
        if pending == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the acknowledged TASK_KILLED is still pending: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.stop();
}

fn checkpointing_framework(checkpoint: bool) -> Value {
    json!({"user": "root", "name": "agent-failover", "failover_timeout": 300.0, "checkpoint": checkpoint})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpointed_task_outlives_an_agent_killed_with_sigkill_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterProcess::start(&dir.path().join("registry.redb"), "60");
    let work_dir = dir.path().join("agent");
    let mut agent = AgentProcess::start(&master, &work_dir);
    let agent_id = wait_for_agent(master.addr(), None).await;
    let mut s =
        Scheduler::subscribe_with(master.addr(), Encoding::Json, checkpointing_framework(true))
            .await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![task(
            "survivor",
            &offer,
            "sleep 4; echo survived",
            0.1,
            32.0,
        )],
    )
    .await;
    let running = s.update_for("survivor").await;
    assert_eq!(running["state"], "TASK_RUNNING");

    agent.kill_and_restart();
    // The task kept running while the agent was down.
    assert!(
        !common::processes_under(&work_dir).is_empty(),
        "the checkpointed executor and its task outlive the agent"
    );
    assert_eq!(
        wait_for_agent(master.addr(), None).await,
        agent_id,
        "same agent id"
    );
    // At least once, in order: the acknowledgement may not have reached the
    // agent before it died, so TASK_RUNNING may come again, with its uuid.
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        assert!(
            Instant::now() < deadline,
            "survivor: TASK_RUNNING resent for 60 s, no TASK_FINISHED"
        );
        let update = s.update_for("survivor").await;
        if update["state"] == "TASK_RUNNING" {
            assert_eq!(
                update["uuid"], running["uuid"],
                "a resend, not a new update"
            );
            continue;
        }
        break update;
    };
    assert_eq!(finished["state"], "TASK_FINISHED", "{finished}");
    assert_eq!(finished["source"], "SOURCE_EXECUTOR");
    agent.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_checkpointing_an_agent_restart_loses_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterProcess::start(&dir.path().join("registry.redb"), "60");
    let work_dir = dir.path().join("agent");
    let mut agent = AgentProcess::start(&master, &work_dir);
    let agent_id = wait_for_agent(master.addr(), None).await;
    let mut s = Scheduler::subscribe_with(
        master.addr(),
        Encoding::Json,
        checkpointing_framework(false),
    )
    .await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![task("fragile", &offer, "sleep 600", 0.1, 32.0)],
    )
    .await;
    assert_eq!(s.update_for("fragile").await["state"], "TASK_RUNNING");

    agent.kill_and_restart();
    assert_eq!(wait_for_agent(master.addr(), None).await, agent_id);
    let lost = s.update_for("fragile").await;
    assert_eq!(lost["state"], "TASK_LOST", "{lost}");
    // Its agent's connection dropped: the master does not wait for it.
    assert_eq!(lost["reason"], "REASON_AGENT_DISCONNECTED", "{lost}");
    assert_eq!(lost["source"], "SOURCE_MASTER");
    // The executor gave up on the agent and took its task down.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::processes_under(&work_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the unrecoverable task was left running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.stop();
}
