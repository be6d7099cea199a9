//! The control plane at scale: a real `corral master` process, thousands
//! of simulated agents speaking the agent protocol (one HTTP stream each,
//! tasks "run" instantly), and frameworks on the v1 scheduler API that
//! fill every agent with tasks. Measures registration, status updates
//! forwarded per second, the master's resident memory, `/master/state`
//! latency, and the time for every agent to re-register after the master
//! is killed and restarted (Mesos' `MasterFailover` benchmark).

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use corral::domain::Resource;
use nix::sys::resource;
use serde_json::{json, Value};

use crate::{
    process::{free_port, log_beside, wait_listening, Daemon},
    progress::{AbortOnDrop, Progress},
    scheduler::{command_task, Scheduler},
    sim_agent::{start_agents, POSTERS},
    stats::{fmt_ms, median, ms, p99, Table},
};

const TASK_CPUS: f64 = 0.1;
const TASK_MEM: f64 = 32.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated agent counts, one cluster each.
    #[arg(long, value_delimiter = ',', default_values_t = vec![2_000, 10_000, 20_000])]
    pub agents: Vec<usize>,
    #[arg(long, default_value_t = 100)]
    pub frameworks: usize,
    /// Tasks in all, spread evenly over the agents.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// GET /master/state this many times.
    #[arg(long, default_value_t = 5)]
    pub state_queries: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let file_limit = raise_fd_limit(args)?;
    let corral = crate::process::corral_binary()?;
    println!(
        "master: {} master (a separate process, registry on disk, logs at warn)",
        corral.display()
    );
    println!(
        "agents: simulated in this process, one agent-protocol stream each; a task is TASK_RUNNING as soon as RUN_TASK arrives;"
    );
    println!(
        "frameworks: {} on the v1 JSON API, filling each offered agent with its share of {} tasks (cpus:{TASK_CPUS};mem:{TASK_MEM}) and acknowledging every update.",
        args.frameworks, args.tasks
    );
    println!("failover: the master is killed (SIGKILL) and started again on the same registry; time until every agent has re-registered (with its tasks).");
    println!("Targets: 10k agents and 100k tasks in < 1 GiB of master memory. Mesos: MasterFailover at 2,000 and 20,000 agents.");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut table = Table::new(&[
        "agents",
        "frameworks",
        "tasks",
        "register all",
        "launch all (ACCEPT→RUNNING at frameworks)",
        "updates/s",
        "master RSS (agents only)",
        "master RSS (with tasks)",
        "RSS peak",
        "/master/state p50",
        "p99",
        "state size",
        "GET_STATE JSON p50",
        "size",
        "GET_STATE protobuf p50",
        "size",
        "re-register all after restart",
        "memory target",
    ]);
    let mut ui_table = Table::new(&[
        "agents",
        "tasks",
        "web UI read",
        "p50",
        "p99",
        "size",
        "vs /master/state p50",
    ]);
    for &agents in &args.agents {
        if files_needed(agents) > file_limit {
            table.row(vec![
                agents.to_string(),
                args.frameworks.to_string(),
                args.tasks.to_string(),
                format!(
                    "skipped: needs {} open files per process, the limit here is {file_limit} (raising it takes CAP_SYS_RESOURCE)",
                    files_needed(agents)
                ),
            ]);
            continue;
        }
        let r = runtime.block_on(cell(&corral, agents, args))?;
        let target = if agents >= 10_000 && args.tasks >= 100_000 {
            if r.rss_bytes < GIB {
                format!("< 1 GiB: met ({:.0}% of it)", r.rss_bytes / GIB * 100.0)
            } else {
                format!("< 1 GiB: MISSED ({:.2} GiB)", r.rss_bytes / GIB)
            }
        } else {
            "-".to_owned()
        };
        table.row(vec![
            agents.to_string(),
            args.frameworks.to_string(),
            args.tasks.to_string(),
            fmt_ms(r.register_ms),
            fmt_ms(r.launch_ms),
            format!("{:.0}", args.tasks as f64 / (r.launch_ms / 1e3)),
            format!("{:.0} MiB", r.registered_rss / 1024.0 / 1024.0),
            format!("{:.0} MiB", r.rss_bytes / 1024.0 / 1024.0),
            format!("{:.0} MiB", r.hwm_bytes / 1024.0 / 1024.0),
            fmt_ms(median(&r.state_ms)),
            fmt_ms(p99(&r.state_ms)),
            format!("{:.1} MiB", r.state_bytes as f64 / 1024.0 / 1024.0),
            fmt_ms(median(&r.get_state_json.0)),
            format!("{:.1} MiB", r.get_state_json.1 as f64 / 1024.0 / 1024.0),
            fmt_ms(median(&r.get_state_protobuf.0)),
            format!("{:.1} MiB", r.get_state_protobuf.1 as f64 / 1024.0 / 1024.0),
            fmt_ms(r.failover_ms),
            target,
        ]);
        for (page, times, size) in &r.ui_pages {
            ui_table.row(vec![
                agents.to_string(),
                args.tasks.to_string(),
                (*page).to_owned(),
                fmt_ms(median(times)),
                fmt_ms(p99(times)),
                format!("{:.1} KiB", *size as f64 / 1024.0),
                format!(
                    "{:.0}x faster",
                    median(&r.state_ms) / median(times).max(1e-3)
                ),
            ]);
        }
        eprintln!("  done: {agents} agents");
    }
    table.print();
    println!();
    println!("The web UI's reads at the same scale, beside /master/state (what Mesos' UI reads for every page):");
    ui_table.print();
    Ok(())
}

/// Open files a cell needs in each process: this one holds a stream per
/// agent, and so does the master (which inherits the limit), plus the
/// frameworks' and the calls' connections.
fn files_needed(agents: usize) -> u64 {
    agents as u64 + 2_000
}

/// Raises the open file limit as far as the cells need and the process may
/// (above the hard limit takes CAP_SYS_RESOURCE); returns the limit.
fn raise_fd_limit(args: &Args) -> Result<u64> {
    let most = args.agents.iter().copied().max().unwrap_or(0);
    let want = files_needed(most);
    let (soft, hard) = resource::getrlimit(resource::Resource::RLIMIT_NOFILE)?;
    if soft >= want {
        return Ok(soft);
    }
    if resource::setrlimit(resource::Resource::RLIMIT_NOFILE, want, hard.max(want)).is_ok() {
        return Ok(want);
    }
    resource::setrlimit(resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}

struct CellResult {
    /// Master RSS with every agent registered, before any task.
    registered_rss: f64,
    register_ms: f64,
    launch_ms: f64,
    rss_bytes: f64,
    hwm_bytes: f64,
    state_ms: Vec<f64>,
    state_bytes: usize,
    /// `GET_STATE` on `/api/v1`: times (ms) and the answer's size.
    get_state_json: (Vec<f64>, usize),
    get_state_protobuf: (Vec<f64>, usize),
    /// The web UI's reads: page, times (ms), size of the answer.
    ui_pages: Vec<(&'static str, Vec<f64>, usize)>,
    failover_ms: f64,
}

/// What the web UI reads for its pages, at this scale.
const UI_PAGES: &[(&str, &str)] = &[
    ("overview", "/ui/api/overview"),
    ("tasks, newest 50", "/ui/api/tasks?limit=50"),
    (
        "running tasks, page 1,000",
        "/ui/api/tasks?state=TASK_RUNNING&offset=50000&limit=50",
    ),
    (
        "tasks named like 'task-7'",
        "/ui/api/tasks?q=task-7&limit=50",
    ),
    ("agents by cpus", "/ui/api/agents?sort=cpus&limit=50"),
    ("frameworks", "/ui/api/frameworks?limit=50"),
];

/// Each of [`UI_PAGES`] `queries` times: the times and the answer's size.
async fn ui_pages(
    http: &reqwest::Client,
    master: &str,
    queries: usize,
) -> Result<Vec<(&'static str, Vec<f64>, usize)>> {
    let mut results = Vec::new();
    for &(page, path) in UI_PAGES {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..queries {
            let t = Instant::now();
            let response = http.get(format!("http://{master}{path}")).send().await?;
            if !response.status().is_success() {
                bail!("{path}: {}", response.status());
            }
            size = response.bytes().await?.len();
            times.push(ms(t.elapsed()));
        }
        results.push((page, times, size));
    }
    Ok(results)
}

/// `GET_STATE` `queries` times in `encoding`; the times and the size of
/// the answer, checked to list every agent.
async fn get_state(
    http: &reqwest::Client,
    master: &str,
    encoding: corral::wire::codec::Encoding,
    queries: usize,
    agents: usize,
) -> Result<(Vec<f64>, usize)> {
    use corral::{
        proto::v1::master::{call, Call, Response},
        wire::codec::{decode, encode},
    };
    let call = Call {
        r#type: Some(call::Type::GetState as i32),
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..queries {
        let t = Instant::now();
        let response = http
            .post(format!("http://{master}/api/v1"))
            .header("content-type", encoding.content_type())
            .header("accept", encoding.content_type())
            .body(encode(&call, encoding))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET_STATE: {}", response.status());
        }
        let body = response.bytes().await?;
        times.push(ms(t.elapsed()));
        size = body.len();
        let answer: Response = decode(&body, encoding)?;
        let listed = answer
            .get_state
            .and_then(|s| s.get_agents)
            .map_or(0, |a| a.agents.len());
        if listed != agents {
            bail!("GET_STATE lists {listed} agents, not {agents}");
        }
    }
    Ok((times, size))
}

/// Starts `corral master` on `port` with `registry`; its log (warnings
/// and errors) goes to `master.log` beside the registry.
pub(crate) fn start_master(corral: &Path, port: u16, registry: &Path) -> Result<Daemon> {
    let child = Command::new(corral)
        .arg("master")
        .args(["--port", &port.to_string()])
        .arg("--registry")
        .arg(registry)
        .args(["--log-level", "warn"])
        // Agents must come back within the benchmark's patience.
        .args(["--agent-reregister-timeout-secs", "600"])
        .stdout(Stdio::null())
        .stderr(log_beside(registry, "master.log")?)
        .spawn()
        .context("starting corral master")?;
    Ok(Daemon::new(child))
}

pub(crate) async fn wait_until(
    what: &str,
    count: impl Fn() -> usize,
    want: usize,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let have = count();
        if have >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what}: {have} of {want} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn cell(corral: &Path, agents: usize, args: &Args) -> Result<CellResult> {
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.db");
    let port = free_port()?;
    let master_addr = format!("127.0.0.1:{port}");
    let master = start_master(corral, port, &registry)?;
    wait_listening(&master_addr).await?;

    let per_agent = args.tasks.div_ceil(agents);
    let total = room_for(per_agent);
    let progress = Arc::new(Progress::default());
    let start = Instant::now();
    let mut handles = Vec::with_capacity(agents + POSTERS);
    start_agents(&master_addr, agents, &total, &progress, &mut handles).await?;
    let reg = &progress.registered;
    let register_ms = ms(start.elapsed());
    let (registered_rss, _) = master.memory()?;

    // Frameworks: each launches its share, then declines for good.
    let quota = args.tasks / args.frameworks;
    let mut frameworks = Vec::with_capacity(args.frameworks);
    for i in 0..args.frameworks {
        let fw = Scheduler::subscribe(&master_addr, &format!("corral-bench-{i}")).await?;
        frameworks.push(fw);
    }
    let want = quota * args.frameworks;
    let start = Instant::now();
    for (i, fw) in frameworks.into_iter().enumerate() {
        handles.push(AbortOnDrop(tokio::spawn(fill(
            fw,
            i,
            quota,
            per_agent,
            progress.clone(),
        ))));
    }
    let run = &progress.running;
    wait_until(
        "tasks running",
        || run.load(Ordering::Relaxed),
        want,
        Duration::from_secs(600),
    )
    .await?;
    let launch_ms = ms(start.elapsed());
    // Let acknowledgements drain before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_bytes, hwm_bytes) = master.memory()?;

    let mut state_ms = Vec::new();
    let mut state_bytes = 0;
    let http = reqwest::Client::new();
    for _ in 0..args.state_queries {
        let t = Instant::now();
        let response = http
            .get(format!("http://{master_addr}/master/state"))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("/master/state: {}", response.status());
        }
        let body = response.bytes().await?;
        state_ms.push(ms(t.elapsed()));
        state_bytes = body.len();
        let state: Value = serde_json::from_slice(&body)?;
        let slaves = state["slaves"].as_array().map_or(0, Vec::len);
        if slaves != agents {
            bail!("/master/state lists {slaves} agents, not {agents}");
        }
    }

    let get_state_json = get_state(
        &http,
        &master_addr,
        corral::wire::codec::Encoding::Json,
        args.state_queries,
        agents,
    )
    .await?;
    let get_state_protobuf = get_state(
        &http,
        &master_addr,
        corral::wire::codec::Encoding::Protobuf,
        args.state_queries,
        agents,
    )
    .await?;

    let ui_pages = ui_pages(&http, &master_addr, args.state_queries).await?;

    // Failover: kill -9, start again on the same registry and port.
    master.kill();
    let before = progress.registered.load(Ordering::Relaxed);
    let master = start_master(corral, port, &registry)?;
    let start = Instant::now();
    wait_listening(&master_addr).await?;
    wait_until(
        "agents re-registered",
        || reg.load(Ordering::Relaxed) - before,
        agents,
        Duration::from_secs(600),
    )
    .await?;
    let failover_ms = ms(start.elapsed());
    drop(handles);
    drop(master);
    Ok(CellResult {
        registered_rss,
        register_ms,
        launch_ms,
        rss_bytes,
        hwm_bytes,
        state_ms,
        state_bytes,
        get_state_json,
        get_state_protobuf,
        ui_pages,
        failover_ms,
    })
}

/// What a simulated agent offers: room for `tasks` of the tasks `fill`
/// launches.
pub(crate) fn room_for(tasks: usize) -> Vec<Resource> {
    vec![
        Resource::scalar("cpus", tasks as f64 * TASK_CPUS),
        Resource::scalar("mem", tasks as f64 * TASK_MEM),
    ]
}

/// A framework launching `quota` tasks, `per_offer` on each offer, then
/// declining every offer for an hour; acknowledges every update.
pub(crate) async fn fill(
    mut fw: Scheduler,
    index: usize,
    quota: usize,
    per_offer: usize,
    progress: Arc<Progress>,
) {
    let mut launched = 0;
    while let Ok(event) = fw.next(Duration::from_secs(3600)).await {
        let result = match event["type"].as_str() {
            Some("OFFERS") => {
                let mut result = Ok(());
                for offer in event["offers"]["offers"].as_array().into_iter().flatten() {
                    let n = per_offer.min(quota - launched);
                    result = if n == 0 {
                        fw.call(
                            "DECLINE",
                            json!({"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 3600.0}}),
                        )
                        .await
                    } else {
                        let tasks: Vec<Value> = (launched..launched + n)
                            .map(|t| {
                                command_task(
                                    &format!("fw{index}-t{t}"),
                                    offer,
                                    "sleep 3600",
                                    TASK_CPUS,
                                    TASK_MEM,
                                )
                            })
                            .collect();
                        launched += n;
                        if progress.pace.get().is_some() {
                            // Paced: the launch waits its turn on a task
                            // of its own, so updates are read meanwhile.
                            let (calls, offer, paced) =
                                (fw.calls.clone(), offer.clone(), progress.clone());
                            tokio::spawn(async move {
                                if let Some(pace) = paced.pace.get() {
                                    pace.admit(n).await;
                                }
                                if let Err(e) = calls.launch(&offer, tasks).await {
                                    eprintln!("framework {index}: {e}");
                                }
                            });
                            Ok(())
                        } else {
                            fw.launch(offer, tasks).await
                        }
                    };
                }
                result
            }
            Some("UPDATE") => {
                let status = &event["update"]["status"];
                if status["state"] == "TASK_RUNNING" {
                    progress.running.fetch_add(1, Ordering::Relaxed);
                    if progress.record_latency.load(Ordering::Relaxed) {
                        if let Some(sent) = status["timestamp"].as_f64() {
                            let latency = (crate::progress::now_seconds() - sent) * 1e3;
                            if let Ok(mut samples) = progress.update_latency_ms.lock() {
                                samples.push(latency);
                            }
                        }
                    }
                }
                fw.acknowledge(status).await
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            eprintln!("framework {index}: {e}");
        }
    }
}
