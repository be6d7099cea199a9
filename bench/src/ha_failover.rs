//! Failover of several masters behind a real ZooKeeper (issue 12): three
//! `corral master --zk` processes, N simulated agents and F frameworks on
//! the leader; the leader is killed with SIGKILL and the benchmark times
//! the new leader serving, every agent re-registered and every task
//! reconciled, beside the session timeout of the same run. Then the
//! registry's write path through the ZooKeeper module itself: latency of
//! one fenced write (p50/p99) and the writes per second it sustains.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use corral::extension::ElectionListener;
use corral_tests::zookeeper::ZooKeeper;
use serde_json::{json, Value};

use crate::{
    control_plane::{fill, room_for, wait_until},
    process::{free_port, log_beside, Daemon},
    progress::{AbortOnDrop, Progress},
    scheduler::Scheduler,
    sim_agent::{start_agents, POSTERS},
    stats::{fmt_ms, median, ms, p99, Table},
};

/// ZooKeeper's tick here: session timeouts of 1 to 10 s.
const TICK_MS: u64 = 500;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 2_000)]
    pub agents: usize,
    #[arg(long, default_value_t = 20_000)]
    pub tasks: usize,
    #[arg(long, default_value_t = 10)]
    pub frameworks: usize,
    /// The masters' ZooKeeper session timeout (Mesos' default is 10 s).
    #[arg(long, default_value_t = 10.0)]
    pub session_timeout_secs: f64,
    /// Fenced registry writes timed one at a time.
    #[arg(long, default_value_t = 2_000)]
    pub latency_writes: usize,
    /// Registry writes queued at once for the throughput figure.
    #[arg(long, default_value_t = 20_000)]
    pub burst_writes: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let corral = crate::process::corral_binary()?;
    let zk = ZooKeeper::start_ticking("corral-bench ha-failover", TICK_MS)
        .context("ZooKeeper is needed (Debian's zookeeper package and Java)")?;
    println!(
        "cluster: 3 `corral master --zk` processes ({}), ZooKeeper standalone on 127.0.0.1:{} (tick {TICK_MS} ms), session timeout {} s;",
        corral.display(),
        zk.port,
        args.session_timeout_secs
    );
    println!(
        "{} simulated agents (reaching the leader through a follower's 307), {} frameworks on the v1 JSON API running {} tasks.",
        args.agents, args.frameworks, args.tasks
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let failover = runtime.block_on(failover(&corral, &zk, args))?;
    let writes = registry_writes(&zk, args)?;

    let session = args.session_timeout_secs * 1e3;
    let mut table = Table::new(&["", "measured", "goal", "met"]);
    table.row(vec![
        "session timeout".into(),
        fmt_ms(session),
        "".into(),
        "".into(),
    ]);
    table.row(vec![
        "kill -9 → new leader serving".into(),
        fmt_ms(failover.elected_ms),
        "".into(),
        "".into(),
    ]);
    let goal = session + 5_000.0;
    table.row(vec![
        format!("kill -9 → all {} agents re-registered", args.agents),
        fmt_ms(failover.agents_ms),
        format!("≤ {}", fmt_ms(goal)),
        if failover.agents_ms <= goal {
            "yes"
        } else {
            "no"
        }
        .into(),
    ]);
    table.row(vec![
        format!("kill -9 → all {} tasks reconciled", failover.tasks),
        fmt_ms(failover.reconciled_ms),
        "".into(),
        "".into(),
    ]);
    table.row(vec![
        "registry write (fenced multi-op), p50".into(),
        fmt_ms(median(&writes.latency_ms)),
        "".into(),
        "".into(),
    ]);
    table.row(vec![
        "registry write, p99".into(),
        fmt_ms(p99(&writes.latency_ms)),
        "".into(),
        "".into(),
    ]);
    table.row(vec![
        format!("registry writes/s ({} queued at once)", args.burst_writes),
        format!("{:.0}", writes.per_second),
        "".into(),
        "".into(),
    ]);
    table.print();
    Ok(())
}

struct Failover {
    elected_ms: f64,
    agents_ms: f64,
    reconciled_ms: f64,
    tasks: usize,
}

fn manifest(dir: &Path, session_timeout_secs: f64) -> Result<PathBuf> {
    let drf = crate::modules::library("corral_allocator_drf")?;
    let zk = crate::modules::library("corral_master_zookeeper")?;
    let path = dir.join("modules.toml");
    std::fs::write(
        &path,
        format!(
            "[[library]]\npath = {:?}\n  [[library.module]]\n  name = \"org_corral_allocator_drf\"\n\
             [[library]]\npath = {:?}\n  [[library.module]]\n  name = \"org_corral_master_zookeeper_contender\"\n  \
             parameters = {{ session_timeout_secs = {session_timeout_secs} }}\n  [[library.module]]\n  \
             name = \"org_corral_master_zookeeper_detector\"\n  parameters = {{ session_timeout_secs = {session_timeout_secs} }}\n",
            drf.display().to_string(),
            zk.display().to_string()
        ),
    )?;
    Ok(path)
}

fn start_master(corral: &Path, port: u16, url: &str, manifest: &Path) -> Result<Daemon> {
    let child = Command::new(corral)
        .arg("master")
        .args(["--port", &port.to_string(), "--zk", url])
        .arg("--manifest")
        .arg(manifest)
        .args(["--hooks", "", "--log-level", "warn"])
        .args(["--agent-reregister-timeout-secs", "600"])
        .stdout(Stdio::null())
        .stderr(log_beside(manifest, &format!("master-{port}.log"))?)
        .spawn()
        .context("starting corral master")?;
    Ok(Daemon::new(child))
}

/// The port the master at `port` redirects `/master/redirect` to.
async fn redirect_of(client: &reqwest::Client, port: u16) -> Option<u16> {
    let r = client
        .get(format!("http://127.0.0.1:{port}/master/redirect"))
        .send()
        .await
        .ok()?;
    let location = r.headers().get("location")?.to_str().ok()?.to_owned();
    location.rsplit(':').next()?.parse().ok()
}

/// The master among `ports` whose redirect names itself.
async fn leader(client: &reqwest::Client, ports: &[u16], within: Duration) -> Result<u16> {
    let deadline = Instant::now() + within;
    loop {
        for &p in ports {
            if redirect_of(client, p).await == Some(p) {
                return Ok(p);
            }
        }
        if Instant::now() > deadline {
            bail!("no master among {ports:?} leads within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn framework_info(index: usize, id: Option<&str>) -> Value {
    let mut info = json!({"user": "bench", "name": format!("corral-bench-ha-{index}"), "failover_timeout": 3600.0});
    if let Some(id) = id {
        info["id"] = json!({"value": id});
    }
    info
}

async fn failover(corral: &Path, zk: &ZooKeeper, args: &Args) -> Result<Failover> {
    let dir = tempfile::tempdir()?;
    let manifest = manifest(dir.path(), args.session_timeout_secs)?;
    let url = format!("zk://{}/corral", zk.connect_string());
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_>>()?;
    let mut masters: Vec<Option<Daemon>> = ports
        .iter()
        .map(|&p| start_master(corral, p, &url, &manifest).map(Some))
        .collect::<Result<_>>()?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()?;
    let first = leader(&http, &ports, Duration::from_secs(60)).await?;
    let follower = *ports.iter().find(|p| **p != first).unwrap_or(&first);
    let via = format!("127.0.0.1:{follower}");
    let leader_addr = format!("127.0.0.1:{first}");

    let per_agent = args.tasks.div_ceil(args.agents);
    let total = room_for(per_agent);
    let progress = Arc::new(Progress::default());
    let mut handles = Vec::with_capacity(args.agents + POSTERS);
    start_agents(&via, args.agents, &total, &progress, &mut handles).await?;
    let reg = &progress.registered;

    let quota = args.tasks / args.frameworks;
    let mut ids = Vec::with_capacity(args.frameworks);
    let mut fills = Vec::with_capacity(args.frameworks);
    for i in 0..args.frameworks {
        let fw = Scheduler::subscribe_with(&leader_addr, framework_info(i, None)).await?;
        ids.push(fw.framework_id.clone());
        fills.push(AbortOnDrop(tokio::spawn(fill(
            fw,
            i,
            quota,
            per_agent,
            progress.clone(),
        ))));
    }
    let want = quota * args.frameworks;
    let run = &progress.running;
    wait_until(
        "tasks running",
        || run.load(Ordering::Relaxed),
        want,
        Duration::from_secs(600),
    )
    .await?;
    // Let acknowledgements and registry writes drain, then the frameworks
    // go (their schedulers would fail over with the master).
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(fills);

    let before = progress.registered.load(Ordering::Relaxed);
    let killed = Instant::now();
    let at = ports
        .iter()
        .position(|p| *p == first)
        .context("the leader")?;
    if let Some(m) = masters[at].take() {
        m.kill();
    }
    let survivors: Vec<u16> = ports.iter().copied().filter(|p| *p != first).collect();
    let second = leader(&http, &survivors, Duration::from_secs(120)).await?;
    let elected_ms = ms(killed.elapsed());
    wait_until(
        "agents re-registered",
        || reg.load(Ordering::Relaxed) - before,
        args.agents,
        Duration::from_secs(600),
    )
    .await?;
    let agents_ms = ms(killed.elapsed());

    // Every framework fails over and reconciles its tasks.
    let second_addr = format!("127.0.0.1:{second}");
    let mut answered = 0;
    let mut frameworks = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let fw = Scheduler::subscribe_with(&second_addr, framework_info(i, Some(id))).await?;
        let tasks: Vec<Value> = (0..quota)
            .map(|t| json!({"task_id": {"value": format!("fw{i}-t{t}")}}))
            .collect();
        fw.call("RECONCILE", json!({"tasks": tasks})).await?;
        frameworks.push(fw);
    }
    for fw in &mut frameworks {
        let mut mine = 0;
        while mine < quota {
            let event = fw.next(Duration::from_secs(120)).await?;
            if event["type"] == "UPDATE" {
                let status = &event["update"]["status"];
                if status["state"] != "TASK_RUNNING" {
                    bail!("reconciliation after failover answered {status}");
                }
                mine += 1;
            }
        }
        answered += mine;
    }
    let reconciled_ms = ms(killed.elapsed());
    drop(handles);
    drop(masters);
    Ok(Failover {
        elected_ms,
        agents_ms,
        reconciled_ms,
        tasks: answered,
    })
}

struct Writes {
    latency_ms: Vec<f64>,
    per_second: f64,
}

struct Elected(std::sync::mpsc::SyncSender<()>);

impl ElectionListener for Elected {
    fn elected(&self) {
        let _ = self.0.try_send(());
    }
    fn confirmed(&self, _valid_for: Duration) {}
    fn lost(&self, reason: &str) {
        eprintln!("the benchmark's contender lost its candidacy: {reason}");
    }
}

/// The registry's write path as a leader uses it: the contender module,
/// elected alone on a path of its own, writing agent-sized records.
fn registry_writes(zk: &ZooKeeper, args: &Args) -> Result<Writes> {
    let (registry, _) = crate::modules::registry(&[(
        "corral_master_zookeeper",
        "org_corral_master_zookeeper_contender",
    )])?;
    let mut contender = registry
        .create_master_contender("org_corral_master_zookeeper_contender", "corral-bench")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let url = format!("zk://{}/corral-bench-writes", zk.connect_string());
    contender
        .contend(&url, "{}", Arc::new(Elected(tx)))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    rx.recv_timeout(Duration::from_secs(30))
        .context("the benchmark's contender was not elected")?;
    // About the size of an agent's record (AgentInfo with resources).
    let record = vec![7u8; 400];
    let mut latency_ms = Vec::with_capacity(args.latency_writes);
    for i in 0..args.latency_writes {
        let t = Instant::now();
        contender
            .registry_write("agents", &format!("latency-{i}"), Some(&record))
            .and_then(|()| contender.registry_flush())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        latency_ms.push(ms(t.elapsed()));
    }
    let t = Instant::now();
    for i in 0..args.burst_writes {
        contender
            .registry_write("agents", &format!("burst-{i}"), Some(&record))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    contender
        .registry_flush()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let per_second = args.burst_writes as f64 / t.elapsed().as_secs_f64();
    // Read back: one table of them all, past what one ZooKeeper listing
    // could hold without the registry's folders.
    let stored = contender
        .registry_read("agents")
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .len();
    if stored != args.latency_writes + args.burst_writes {
        bail!(
            "the registry holds {stored} records, not {}",
            args.latency_writes + args.burst_writes
        );
    }
    contender.withdraw().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Writes {
        latency_ms,
        per_second,
    })
}
