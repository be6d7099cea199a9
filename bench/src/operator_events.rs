//! Operators' event streams under load: a real `corral master` process,
//! simulated agents and frameworks as in `control-plane`, and S operators
//! following the v1 operator API's `SUBSCRIBE` stream (protobuf) while the
//! frameworks launch tasks as fast as the master takes them. Each cell is
//! run with no operator and with S, on a fresh master: the master's update
//! throughput and the frameworks' update latency with and without them,
//! and how late events reach the operators.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use corral::{
    proto::v1::master::{call, event, Call, Event},
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};
use futures::StreamExt;

use crate::{
    control_plane::{fill, room_for, start_master, wait_until},
    process::{free_port, wait_listening},
    progress::{now_seconds, AbortOnDrop, Progress},
    scheduler::Scheduler,
    sim_agent::start_agents,
    stats::{fmt_ms, median, p99, Table},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 1_000)]
    pub agents: usize,
    #[arg(long, default_value_t = 10)]
    pub frameworks: usize,
    /// Tasks launched in all (each brings TASK_ADDED and TASK_UPDATED to
    /// every operator).
    #[arg(long, default_value_t = 20_000)]
    pub tasks: usize,
    /// Operators following the stream in the second run of each cell.
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// The paced cell's launch rate (tasks, hence TASK_RUNNING updates,
    /// per second); the other cell launches as fast as the master goes.
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
}

/// An operator decodes one record in this many (and the SUBSCRIBED one),
/// and counts the rest: the operators share this machine's two cores with
/// the master, and decoding every event of 100 streams would take the
/// master's CPU rather than measure it.
const DECODE_EVERY: usize = 16;

/// What the operators of one run saw.
#[derive(Default)]
struct Operators {
    /// Event records received after SUBSCRIBED, over all operators.
    records: AtomicUsize,
    /// Streams that ended before the run did.
    ended: AtomicUsize,
    /// Subscribed (SUBSCRIBED received).
    subscribed: AtomicUsize,
    /// Milliseconds from a simulated agent sending TASK_RUNNING to an
    /// operator decoding its TASK_UPDATED (of the records decoded).
    latency_ms: Mutex<Vec<f64>>,
}

struct RunResult {
    launch_s: f64,
    framework_latency: Vec<f64>,
    operator_latency: Vec<f64>,
    delivered: usize,
    ended: usize,
    master_cpu_s: f64,
}

pub fn run(args: &Args) -> Result<()> {
    let corral = crate::process::corral_binary()?;
    println!(
        "master: {} master; {} simulated agents, {} frameworks launching {} tasks as fast as offers come (TASK_RUNNING at once), acknowledging every update.",
        corral.display(),
        args.agents,
        args.frameworks,
        args.tasks
    );
    println!(
        "operators: 0, then {} SUBSCRIBE streams (protobuf) on /api/v1 in this process, each reading every record and decoding one in {DECODE_EVERY} (for the delivery latency).",
        args.subscribers
    );
    println!("Goal: the master's update throughput with the operators within 10% of without them.");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut table = Table::new(&[
        "load",
        "operators",
        "tasks",
        "updates/s",
        "vs none",
        "framework update latency p50",
        "p99",
        "operator event latency p50",
        "p99",
        "task events delivered",
        "streams ended",
        "master CPU",
    ]);
    let cells = [
        (None, 0),
        (None, args.subscribers),
        (Some(args.rate), 0),
        (Some(args.rate), args.subscribers),
    ];
    let mut baseline = None;
    for (pace, subscribers) in cells {
        let r = runtime.block_on(cell(&corral, args, subscribers, pace))?;
        let rate = args.tasks as f64 / r.launch_s;
        if subscribers == 0 {
            baseline = Some(rate);
        }
        let base = baseline.unwrap_or(rate);
        let change = (rate / base - 1.0) * 100.0;
        let versus = if subscribers == 0 {
            "baseline".to_owned()
        } else {
            format!(
                "{change:+.1}% ({})",
                if change >= -10.0 {
                    "goal met"
                } else {
                    "goal MISSED"
                }
            )
        };
        let latency = |samples: &[f64], q: fn(&[f64]) -> f64| {
            if samples.is_empty() {
                "-".to_owned()
            } else {
                fmt_ms(q(samples))
            }
        };
        table.row(vec![
            pace.map_or("as fast as it goes".to_owned(), |r| {
                format!("{r:.0} tasks/s")
            }),
            subscribers.to_string(),
            args.tasks.to_string(),
            format!("{rate:.0}"),
            versus,
            latency(&r.framework_latency, median),
            latency(&r.framework_latency, p99),
            latency(&r.operator_latency, median),
            latency(&r.operator_latency, p99),
            format!("{} of {}", r.delivered, 2 * subscribers * args.tasks),
            r.ended.to_string(),
            format!("{:.1} s", r.master_cpu_s),
        ]);
        eprintln!("  done: {subscribers} operators, pace {pace:?}");
    }
    table.print();
    Ok(())
}

/// One operator: subscribes, then decodes every event, timing
/// TASK_UPDATED against the update's own timestamp.
async fn operator(master: String, seen: Arc<Operators>) {
    let call = Call {
        r#type: Some(call::Type::Subscribe as i32),
        ..Default::default()
    };
    let response = reqwest::Client::new()
        .post(format!("http://{master}/api/v1"))
        .header("content-type", Encoding::Protobuf.content_type())
        .header("accept", Encoding::Protobuf.content_type())
        .body(encode(&call, Encoding::Protobuf))
        .send()
        .await;
    let Ok(response) = response.and_then(|r| r.error_for_status()) else {
        seen.ended.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut body = response.bytes_stream();
    let mut reader = RecordReader::default();
    let mut count = 0usize;
    while let Some(Ok(chunk)) = body.next().await {
        let Ok(records) = reader.push(&chunk) else {
            break;
        };
        for record in records {
            count += 1;
            if count == 1 {
                seen.subscribed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            seen.records.fetch_add(1, Ordering::Relaxed);
            if !count.is_multiple_of(DECODE_EVERY) {
                continue;
            }
            let Ok(e) = decode::<Event>(&record, Encoding::Protobuf) else {
                continue;
            };
            if e.r#type == Some(event::Type::TaskUpdated as i32) {
                if let Some(sent) = e.task_updated.and_then(|u| u.status.timestamp) {
                    let latency = (now_seconds() - sent) * 1e3;
                    if let Ok(mut all) = seen.latency_ms.lock() {
                        all.push(latency);
                    }
                }
            }
        }
    }
    seen.ended.fetch_add(1, Ordering::Relaxed);
}

async fn cell(
    corral: &std::path::Path,
    args: &Args,
    subscribers: usize,
    pace: Option<f64>,
) -> Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.db");
    let port = free_port()?;
    let master_addr = format!("127.0.0.1:{port}");
    let master = start_master(corral, port, &registry)?;
    wait_listening(&master_addr).await?;

    let per_agent = args.tasks.div_ceil(args.agents);
    let total = room_for(per_agent);
    let progress = Arc::new(Progress::default());
    progress.record_latency.store(true, Ordering::Relaxed);
    let mut handles = Vec::new();
    start_agents(&master_addr, args.agents, &total, &progress, &mut handles).await?;

    let seen = Arc::new(Operators::default());
    for _ in 0..subscribers {
        handles.push(AbortOnDrop(tokio::spawn(operator(
            master_addr.clone(),
            seen.clone(),
        ))));
    }
    wait_until(
        "operators subscribed",
        || seen.subscribed.load(Ordering::Relaxed),
        subscribers,
        Duration::from_secs(60),
    )
    .await?;

    let quota = args.tasks / args.frameworks;
    let mut frameworks = Vec::with_capacity(args.frameworks);
    for i in 0..args.frameworks {
        frameworks.push(Scheduler::subscribe(&master_addr, &format!("corral-bench-{i}")).await?);
    }
    let want = quota * args.frameworks;
    let cpu_before = master.cpu_seconds()?;
    let start = Instant::now();
    if let Some(per_second) = pace {
        let _ = progress.pace.set(crate::progress::Pace {
            start: tokio::time::Instant::now(),
            per_second,
            issued: AtomicUsize::new(0),
        });
    }
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
    let launch_s = start.elapsed().as_secs_f64();
    let master_cpu_s = master.cpu_seconds()? - cpu_before;
    // Operators get TASK_ADDED and TASK_UPDATED for every task (and a
    // heartbeat or framework event or two), shortly after the frameworks.
    let delivered = &seen.records;
    let all = 2 * want * subscribers;
    if wait_until(
        "operator events",
        || delivered.load(Ordering::Relaxed),
        all,
        Duration::from_secs(60),
    )
    .await
    .is_err()
    {
        eprintln!(
            "  operators got {} of {all} task events within 60 s",
            delivered.load(Ordering::Relaxed)
        );
    }
    let ended = seen.ended.load(Ordering::Relaxed);
    let delivered = seen.records.load(Ordering::Relaxed).min(all);
    drop(handles);
    drop(master);
    let framework_latency = std::mem::take(&mut *progress.update_latency_ms.lock().unwrap());
    let operator_latency = std::mem::take(&mut *seen.latency_ms.lock().unwrap());
    if framework_latency.is_empty() {
        bail!("no update latency recorded at the frameworks");
    }
    Ok(RunResult {
        launch_s,
        framework_latency,
        operator_latency,
        delivered,
        ended,
        master_cpu_s,
    })
}
