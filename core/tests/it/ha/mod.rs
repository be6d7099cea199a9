//! Several masters behind a real ZooKeeper (issue 12): election, failover
//! with no task lost, a stopped or partitioned leader that never acts
//! again, and the election read the way Mesos clients read it.

mod zookeeper;

use std::{
    path::Path,
    process::Child,
    time::{Duration, Instant},
};

use corral::wire::codec::Encoding;
use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::{
    common::{self, task, Scheduler},
    process_failover::{
        corral, framework_info, free_port, signal, wait_for_agent, AgentProcess, KILL_TIMEOUT,
    },
};
use zookeeper::{children, Proxy, ZooKeeper};

/// The session timeout the masters use here (the module's parameter).
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// One master process of the election.
struct Master {
    port: u16,
    zk_url: String,
    manifest: std::path::PathBuf,
    child: Child,
}

impl Master {
    fn start(zk_url: &str, manifest: &Path) -> Master {
        Self::start_on(free_port(), zk_url, manifest)
    }

    fn start_on(port: u16, zk_url: &str, manifest: &Path) -> Master {
        Master {
            port,
            zk_url: zk_url.to_owned(),
            manifest: manifest.to_owned(),
            child: Self::spawn(port, zk_url, manifest),
        }
    }

    fn spawn(port: u16, zk_url: &str, manifest: &Path) -> Child {
        corral(&[
            "master",
            "--port",
            &port.to_string(),
            "--zk",
            zk_url,
            "--manifest",
            manifest.to_str().unwrap(),
            "--hooks",
            "",
            "--allocation-interval-secs",
            "0.1",
            "--heartbeat-interval-secs",
            "1",
            "--agent-ping-interval-secs",
            "0.5",
            "--agent-timeout-secs",
            "60",
        ])
    }

    fn addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    fn kill(&mut self) {
        signal(&self.child, Signal::SIGKILL);
        corral_tests::wait_or_kill(&mut self.child, KILL_TIMEOUT, "a master after SIGKILL");
    }

    fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.zk_url, &self.manifest);
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            Signal::SIGCONT,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// The port `/master/redirect` on the master at `port` sends to, if any.
async fn redirect_of(port: u16) -> Option<u16> {
    let response = no_redirects()
        .get(format!("http://127.0.0.1:{port}/master/redirect"))
        .send()
        .await
        .ok()?;
    if response.status() != 307 {
        return None;
    }
    let location = response
        .headers()
        .get("location")?
        .to_str()
        .ok()?
        .to_owned();
    location.rsplit(':').next()?.parse().ok()
}

/// Whether the master at `port` leads and serves: its own redirect names
/// itself and it answers `/master/state` as the leader.
async fn serves_as_leader(port: u16) -> bool {
    if redirect_of(port).await != Some(port) {
        return false;
    }
    let (code, body) = common::get(format!("http://127.0.0.1:{port}/master/state")).await;
    code == 200
        && serde_json::from_str::<Value>(&body).is_ok_and(|s| {
            s["leader"] == format!("master@127.0.0.1:{port}") && s.get("elected_time").is_some()
        })
}

/// The master among `ports` that leads and serves, waiting up to `within`.
async fn leader_among(ports: &[u16], within: Duration) -> u16 {
    let deadline = Instant::now() + within;
    loop {
        for &port in ports {
            if serves_as_leader(port).await {
                return port;
            }
        }
        let seen: Vec<(u16, Option<u16>)> = {
            let mut seen = Vec::new();
            for &p in ports {
                seen.push((p, redirect_of(p).await));
            }
            seen
        };
        assert!(
            Instant::now() < deadline,
            "no master among {ports:?} leads within {within:?}; their redirects: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a Mesos client does with `zk://host:port/path`: list the path's
/// children, take the `json.info_` one with the smallest sequence, read
/// its `MasterInfo` JSON.
fn mesos_client_leader(zk: &ZooKeeper, path: &str) -> (Vec<String>, Value) {
    let listed = children(&zk.cli(&["ls", path]));
    let leader = listed
        .iter()
        .filter(|c| c.starts_with("json.info_"))
        .min_by_key(|c| c["json.info_".len()..].parse::<u64>().unwrap_or(u64::MAX))
        .unwrap_or_else(|| panic!("no json.info_ child under {path}: {listed:?}"))
        .clone();
    let json = zk.cli(&["get", &format!("{path}/{leader}")]);
    let info = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{path}/{leader} holds {json:?}, not MasterInfo JSON: {e}"));
    (listed, info)
}

fn checkpointing(id: Option<&str>) -> Value {
    let mut info = framework_info(id);
    info["checkpoint"] = json!(true);
    info
}

/// The framework `framework_id`, failed over to the master at `master`,
/// reconciles `task` on `agent_id` and hears it is still running.
async fn reconciles_running(
    master: std::net::SocketAddr,
    framework_id: &str,
    agent_id: &str,
    task: &str,
) {
    let mut s =
        Scheduler::subscribe_with(master, Encoding::Json, checkpointing(Some(framework_id))).await;
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": task}, "agent_id": {"value": agent_id}},
        ]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let status = s.update_for(task).await;
    assert_eq!(status["state"], "TASK_RUNNING", "{status}");
    assert_eq!(status["reason"], "REASON_RECONCILIATION", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_another_takes_over_with_every_task_and_mesos_clients_follow() {
    let Some(zk) = ZooKeeper::start("ha failover") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = zookeeper::manifest(dir.path(), SESSION_TIMEOUT.as_secs_f64());
    let url = format!("zk://{}/corral", zk.connect_string());
    let mut masters: Vec<Master> = (0..3).map(|_| Master::start(&url, &manifest)).collect();
    let ports: Vec<u16> = masters.iter().map(|m| m.port).collect();
    let first = leader_among(&ports, Duration::from_secs(30)).await;

    // Followers send every call to the leader, as Mesos writes it.
    for &port in ports.iter().filter(|p| **p != first) {
        assert_eq!(redirect_of(port).await, Some(first));
        let (_, body) = common::get(format!("http://127.0.0.1:{port}/master/state")).await;
        let state: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            state["leader"],
            format!("master@127.0.0.1:{first}"),
            "{state}"
        );
        assert_eq!(state["leader_info"]["port"], first, "{state}");
        let call = no_redirects()
            .post(format!("http://127.0.0.1:{port}/api/v1/scheduler"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(call.status(), 307);
        assert_eq!(
            call.headers()["location"],
            format!("//127.0.0.1:{first}/api/v1/scheduler").as_str()
        );
    }
    // A Mesos client reading ZooKeeper finds the same leader, and nothing
    // but candidacies under the path.
    let (listed, info) = mesos_client_leader(&zk, "/corral");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|c| c.starts_with("json.info_") && c.len() == 20),
        "{listed:?}"
    );
    assert_eq!(info["port"], first, "{info}");
    assert_eq!(info["pid"], format!("master@127.0.0.1:{first}"));
    assert_eq!(info["ip"], 16_777_343u32, "127.0.0.1 as Mesos' uint32");
    assert_eq!(info["address"]["ip"], "127.0.0.1");

    let work = dir.path().join("agent");
    let _agent = AgentProcess::start_at(
        &url,
        &work,
        &["--manifest", manifest.to_str().unwrap(), "--hooks", ""],
    );
    let leader = masters.iter().position(|m| m.port == first).unwrap();
    let agent_id = wait_for_agent(masters[leader].addr(), None).await;
    // The registry is beside the election, one znode per record.
    let deadline = Instant::now() + Duration::from_secs(10);
    while zk.records("/corral-registry/agents") != vec![agent_id.clone()] {
        assert!(
            Instant::now() < deadline,
            "the agent is not in the registry: {:?}",
            zk.records("/corral-registry/agents")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut s =
        Scheduler::subscribe_with(masters[leader].addr(), Encoding::Json, checkpointing(None))
            .await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("long", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("long").await["state"], "TASK_RUNNING");
    let framework_id = s.framework_id.clone();
    drop(s);

    let killed = Instant::now();
    masters[leader].kill();
    let survivors: Vec<u16> = ports.iter().copied().filter(|p| *p != first).collect();
    let second = leader_among(&survivors, SESSION_TIMEOUT + Duration::from_secs(20)).await;
    let elected_after = killed.elapsed();
    let second_at = masters.iter().position(|m| m.port == second).unwrap();
    assert_eq!(
        wait_for_agent(masters[second_at].addr(), None).await,
        agent_id
    );
    let agent_back_after = killed.elapsed();
    eprintln!("failover: elected after {elected_after:?}, agent back after {agent_back_after:?} (session timeout {SESSION_TIMEOUT:?})");
    assert!(
        agent_back_after < SESSION_TIMEOUT + Duration::from_secs(10),
        "the agent took {agent_back_after:?} to be back with the new leader"
    );

    // The framework fails over to the new leader; its task was not lost.
    reconciles_running(masters[second_at].addr(), &framework_id, &agent_id, "long").await;
    let (_, info) = mesos_client_leader(&zk, "/corral");
    assert_eq!(
        info["port"], second,
        "a Mesos client finds the new leader: {info}"
    );

    // The old leader, restarted, joins as a follower.
    masters[leader].restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while redirect_of(first).await != Some(second) {
        assert!(
            Instant::now() < deadline,
            "the restarted master does not follow {second}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (listed, info) = mesos_client_leader(&zk, "/corral");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(info["port"], second, "{info}");
    assert!(serves_as_leader(second).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_past_its_session_timeout_never_acts_again() {
    let Some(zk) = ZooKeeper::start("ha stopped leader") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = zookeeper::manifest(dir.path(), SESSION_TIMEOUT.as_secs_f64());
    let url = format!("zk://{}/corral", zk.connect_string());
    let mut first = Master::start(&url, &manifest);
    assert_eq!(
        leader_among(&[first.port], Duration::from_secs(30)).await,
        first.port
    );
    let second = Master::start(&url, &manifest);
    let work = dir.path().join("agent");
    let _agent = AgentProcess::start_at(
        &url,
        &work,
        &["--manifest", manifest.to_str().unwrap(), "--hooks", ""],
    );
    let agent_id = wait_for_agent(first.addr(), None).await;
    let mut s = Scheduler::subscribe_with(first.addr(), Encoding::Json, checkpointing(None)).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("long", &offer, "sleep 600", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("long").await["state"], "TASK_RUNNING");
    let framework_id = s.framework_id.clone();
    let frameworks = zk.records("/corral-registry/frameworks");
    assert_eq!(
        frameworks,
        vec![framework_id.clone()],
        "the registry in ZooKeeper"
    );

    // A short task ends while the leader is stopped: the agent's update
    // waits in the stopped leader's socket, and would go out as an UPDATE
    // (and the freed resources as an offer) if it acted once resumed.
    let offer = s.offer().await;
    s.launch(&offer, vec![task("short", &offer, "sleep 1", 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("short").await["state"], "TASK_RUNNING");

    // Stopped, the leader gets a TEARDOWN it will read when it resumes: if
    // it acted on it, the registry would lose the framework and the agent
    // would kill the task.
    signal(&first.child, Signal::SIGSTOP);
    let teardown = {
        let (url, stream) = (
            format!("http://127.0.0.1:{}/api/v1/scheduler", first.port),
            s.stream_id.clone(),
        );
        let body = json!({"type": "TEARDOWN", "framework_id": {"value": framework_id}});
        tokio::spawn(async move {
            let sent = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("mesos-stream-id", stream)
                .body(body.to_string())
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            sent.map(|r| r.status().as_u16())
        })
    };
    let stopped = Instant::now();
    let taken_over = leader_among(&[second.port], SESSION_TIMEOUT + Duration::from_secs(20)).await;
    assert_eq!(taken_over, second.port);
    tokio::time::sleep(
        (SESSION_TIMEOUT + Duration::from_secs(1)).saturating_sub(stopped.elapsed()),
    )
    .await;
    // What it sent before it stopped has arrived by now.
    let _ = s.events_within(Duration::from_millis(200)).await;
    signal(&first.child, Signal::SIGCONT);

    // It ends itself, and nothing more comes from it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = first.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the stopped leader did not exit once resumed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success(), "{status}");
    let (after, _) = s.events_within(Duration::from_secs(1)).await;
    let acted: Vec<&Value> = after
        .iter()
        .filter(|e| {
            ["OFFERS", "UPDATE", "RESCIND", "FAILURE"].contains(&e["type"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(acted.is_empty(), "the resumed leader sent {acted:?}");
    let _ = teardown.await;
    assert_eq!(
        zk.records("/corral-registry/frameworks"),
        vec![framework_id.clone()],
        "the resumed leader wrote to the registry"
    );

    // The task lives on under the new leader.
    assert_eq!(wait_for_agent(second.addr(), None).await, agent_id);
    reconciles_running(second.addr(), &framework_id, &agent_id, "long").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_zookeeper_stops_before_another_is_elected() {
    let Some(zk) = ZooKeeper::start("ha partition") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = zookeeper::manifest(dir.path(), SESSION_TIMEOUT.as_secs_f64());
    let direct = format!("zk://{}/corral", zk.connect_string());
    let p1 = Proxy::start(zk.port).await;
    let p2 = Proxy::start(zk.port).await;
    let mut first = Master::start(&format!("zk://127.0.0.1:{}/corral", p1.port), &manifest);
    assert_eq!(
        leader_among(&[first.port], Duration::from_secs(30)).await,
        first.port
    );
    let second = Master::start(&format!("zk://127.0.0.1:{}/corral", p2.port), &manifest);
    let work = dir.path().join("agent");
    let _agent = AgentProcess::start_at(
        &direct,
        &work,
        &["--manifest", manifest.to_str().unwrap(), "--hooks", ""],
    );
    let agent_id = wait_for_agent(first.addr(), None).await;
    // The second master follows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while redirect_of(second.port).await != Some(first.port) {
        assert!(
            Instant::now() < deadline,
            "the second master does not follow the first"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The leader loses ZooKeeper but not its agent.
    let cut = Instant::now();
    p1.cut();
    let deadline = cut + SESSION_TIMEOUT + Duration::from_secs(20);
    let (mut exited, mut elected) = (None, None);
    while exited.is_none() || elected.is_none() {
        assert!(
            Instant::now() < deadline,
            "after the cut: the old leader exited after {exited:?}, the new one serves after {elected:?}"
        );
        if exited.is_none() && first.exited().is_some() {
            exited = Some(cut.elapsed());
        }
        if elected.is_none() && serves_as_leader(second.port).await {
            elected = Some(cut.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (exited, elected) = (exited.unwrap(), elected.unwrap());
    eprintln!(
        "partition: the old leader stopped after {exited:?}, the new one served after {elected:?}"
    );
    assert!(
        exited < elected,
        "two masters acted at once: the new leader served after {elected:?}, the old stopped after {exited:?}"
    );
    assert_eq!(wait_for_agent(second.addr(), None).await, agent_id);
    drop(p2);
}
