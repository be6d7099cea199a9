//! Task launch through the real binaries: `corral local` (master, agent,
//! launch helper, command executor as separate processes), a framework on
//! the v1 HTTP API, latency from ACCEPT to TASK_RUNNING and throughput of
//! short tasks, with isolation off and on. Beside them, the floor measured
//! in the same run: starting the same executor program directly, in the
//! same namespaces, without Corral.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{
    process::{free_port, Daemon},
    scheduler::{command_task, offered, Scheduler},
    stats::{fmt_ms, median, ms, p99, quantile, Table},
};

/// Resources of the agent: room for `AGENT_CPUS / TASK_CPUS` tasks at once.
const AGENT_CPUS: f64 = 16.0;
const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;
/// Allocation interval of the benchmark's master (the default is 1 s; an
/// offer's wait is not part of ACCEPT → TASK_RUNNING, only of throughput).
const ALLOCATION_INTERVAL_SECS: &str = "0.05";
const EVENT_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// No isolators: the executor runs as a plain child of the helper.
    Off,
    /// namespaces/pid + filesystem/shared (private /tmp) + cgroups/cpu + cgroups/mem.
    On,
}

impl Isolation {
    fn modules(self) -> &'static str {
        match self {
            Isolation::Off => "",
            Isolation::On => "namespaces/pid,filesystem/shared,cgroups/cpu,cgroups/mem",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tasks launched one at a time for ACCEPT → TASK_RUNNING latency.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Short tasks launched as fast as offers allow, for throughput.
    #[arg(long, default_value_t = 1_000)]
    pub tasks: usize,
    /// Isolation settings to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Isolation::Off, Isolation::On])]
    pub isolation: Vec<Isolation>,
}

pub fn run(args: &Args) -> Result<()> {
    let corral = crate::process::corral_binary()?;
    println!("corral: {}", corral.display());
    println!(
        "cluster: `corral local` (agent cpus:{AGENT_CPUS};mem:16384, allocation interval {ALLOCATION_INTERVAL_SECS} s); tasks `true`, cpus:{TASK_CPUS};mem:{TASK_MEM};"
    );
    println!(
        "latency: {} tasks one at a time, ACCEPT sent → TASK_RUNNING decoded by the framework;",
        args.samples
    );
    println!(
        "throughput: {} tasks launched as offers come, first ACCEPT → last TASK_FINISHED.",
        args.tasks
    );
    println!("floor: the same executor program (`corral --version`) started directly, N times, in the same namespaces as the container (pid + mount, via unshare(1)) when isolation is on.");
    println!("Target: launch p50 within 2× of the floor.");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut table = Table::new(&[
        "isolation",
        "floor p50",
        "floor p99",
        "ACCEPT→RUNNING p50",
        "p99",
        "p50 / floor",
        "throughput (tasks/s)",
        "under load p50",
        "under load p99",
        "target",
    ]);
    for &isolation in &args.isolation {
        let floor = measure_floor(&corral, isolation, args.samples)?;
        let result = runtime.block_on(measure_cluster(&corral, isolation, args))?;
        let ratio = median(&result.latency_ms) / median(&floor);
        table.row(vec![
            format!("{isolation:?}").to_lowercase(),
            fmt_ms(median(&floor)),
            fmt_ms(p99(&floor)),
            fmt_ms(median(&result.latency_ms)),
            fmt_ms(p99(&result.latency_ms)),
            format!("{ratio:.2}"),
            format!("{:.0}", result.tasks_per_sec),
            fmt_ms(median(&result.loaded_latency_ms)),
            fmt_ms(quantile(&result.loaded_latency_ms, 0.99)),
            if ratio <= 2.0 {
                "met".to_owned()
            } else {
                format!("MISSED by {:.1}×", ratio / 2.0)
            },
        ]);
        eprintln!("  done: isolation {isolation:?}");
    }
    table.print();
    Ok(())
}

/// Milliseconds to start `corral --version` and see it exit, `samples`
/// times; inside new pid and mount namespaces when isolation is on.
fn measure_floor(corral: &Path, isolation: Isolation, samples: usize) -> Result<Vec<f64>> {
    let command = || match isolation {
        Isolation::Off => {
            let mut c = Command::new(corral);
            c.arg("--version");
            c
        }
        Isolation::On => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--mount", "--fork"])
                .arg(corral)
                .arg("--version");
            c
        }
    };
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        let status = command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("starting the floor's program")?;
        times.push(ms(start.elapsed()));
        if !status.success() {
            bail!("the floor's program failed ({status}); is unshare(1) there and are we root?");
        }
    }
    Ok(times)
}

struct ClusterResult {
    latency_ms: Vec<f64>,
    tasks_per_sec: f64,
    /// ACCEPT → TASK_RUNNING of every task of the throughput phase.
    loaded_latency_ms: Vec<f64>,
}

/// `corral local` and its work directory (removed after it stopped: the
/// daemon is dropped first).
struct Local {
    _daemon: Daemon,
    _work_dir: tempfile::TempDir,
}

async fn start_local(corral: &Path, isolation: Isolation) -> Result<(Local, String)> {
    let port = free_port()?;
    let work_dir = tempfile::tempdir()?;
    let child = Command::new(corral)
        .arg("local")
        .args(["--port", &port.to_string()])
        .arg("--work-dir")
        .arg(work_dir.path())
        .args([
            "--resources",
            &format!("cpus:{AGENT_CPUS};mem:16384;disk:10000;ports:[31000-32000]"),
        ])
        .args(["--isolation", isolation.modules()])
        .args(["--log-level", "warn"])
        .env(
            "CORRAL_MASTER_ALLOCATION_INTERVAL_SECS",
            ALLOCATION_INTERVAL_SECS,
        )
        .stdout(Stdio::null())
        .spawn()
        .context("starting corral local")?;
    let local = Local {
        _daemon: Daemon::new(child),
        _work_dir: work_dir,
    };
    let master = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("http://{master}/master/slaves")).await {
            if let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default()) {
                if v["slaves"].as_array().is_some_and(|a| !a.is_empty()) {
                    return Ok((local, master));
                }
            }
        }
        if Instant::now() > deadline {
            bail!("corral local had no agent within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The offers of an OFFERS event.
fn offers_of(event: &Value) -> Vec<Value> {
    event["offers"]["offers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An offer held, or the next one to come (acknowledging updates on the
/// way).
async fn next_offer(fw: &mut Scheduler, held: &mut Vec<Value>) -> Result<Value> {
    loop {
        if let Some(offer) = held.pop() {
            return Ok(offer);
        }
        let event = fw.next(EVENT_WAIT).await?;
        match event["type"].as_str() {
            Some("OFFERS") => held.extend(offers_of(&event)),
            Some("UPDATE") => fw.acknowledge(&event["update"]["status"]).await?,
            _ => {}
        }
    }
}

async fn measure_cluster(
    corral: &Path,
    isolation: Isolation,
    args: &Args,
) -> Result<ClusterResult> {
    let (local, master) = start_local(corral, isolation).await?;
    let mut fw = Scheduler::subscribe(&master, "corral-bench-launch").await?;

    // Latency: one task at a time, each waited for until it finished.
    let mut latency_ms = Vec::with_capacity(args.samples);
    // Offers received and not used yet.
    let mut held = Vec::new();
    for i in 0..args.samples {
        let offer = next_offer(&mut fw, &mut held).await?;
        let id = format!("latency-{i}");
        let start = Instant::now();
        fw.launch(
            &offer,
            vec![command_task(&id, &offer, "true", TASK_CPUS, TASK_MEM)],
        )
        .await?;
        let mut running = None;
        loop {
            let event = fw.next(EVENT_WAIT).await?;
            if event["type"] == "OFFERS" {
                held.extend(offers_of(&event));
                continue;
            }
            if event["type"] != "UPDATE" {
                continue;
            }
            let status = &event["update"]["status"];
            fw.acknowledge(status).await?;
            if status["task_id"]["value"] != id.as_str() {
                continue;
            }
            match status["state"].as_str() {
                Some("TASK_RUNNING") => running = Some(ms(start.elapsed())),
                Some("TASK_FINISHED") => break,
                other => bail!("task {id}: {other:?}: {}", status["message"]),
            }
        }
        latency_ms.push(running.with_context(|| format!("{id} finished unseen running"))?);
    }

    // Throughput: every offer filled with as many tasks as fit.
    let mut launched = 0;
    let mut finished = 0;
    let mut accepted_at = std::collections::HashMap::new();
    let mut loaded_latency_ms = Vec::with_capacity(args.tasks);
    let start = Instant::now();
    while finished < args.tasks {
        let event = if held.is_empty() {
            fw.next(EVENT_WAIT).await?
        } else {
            json!({"type": "OFFERS", "offers": {"offers": std::mem::take(&mut held)}})
        };
        match event["type"].as_str() {
            Some("OFFERS") => {
                for offer in &offers_of(&event) {
                    let fit = (offered(offer, "cpus") / TASK_CPUS + 1e-9)
                        .min(offered(offer, "mem") / TASK_MEM)
                        as usize;
                    let n = fit.min(args.tasks - launched);
                    let tasks: Vec<Value> = (launched..launched + n)
                        .map(|i| {
                            command_task(&format!("load-{i}"), offer, "true", TASK_CPUS, TASK_MEM)
                        })
                        .collect();
                    let at = Instant::now();
                    for i in launched..launched + n {
                        accepted_at.insert(format!("load-{i}"), at);
                    }
                    launched += n;
                    if tasks.is_empty() {
                        fw.call("DECLINE", json!({"offer_ids": [offer["id"]]}))
                            .await?;
                    } else {
                        fw.launch(offer, tasks).await?;
                    }
                }
            }
            Some("UPDATE") => {
                let status = &event["update"]["status"];
                fw.acknowledge(status).await?;
                let id = status["task_id"]["value"].as_str().unwrap_or_default();
                match status["state"].as_str() {
                    Some("TASK_RUNNING") => {
                        if let Some(at) = accepted_at.get(id) {
                            loaded_latency_ms.push(ms(at.elapsed()));
                        }
                    }
                    Some("TASK_FINISHED") => finished += 1,
                    other => bail!("task {id}: {other:?}: {}", status["message"]),
                }
            }
            _ => {}
        }
    }
    let tasks_per_sec = args.tasks as f64 / start.elapsed().as_secs_f64();
    drop(fw);
    drop(local);
    Ok(ClusterResult {
        latency_ms,
        tasks_per_sec,
        loaded_latency_ms,
    })
}
