//! Mesos' `SchedulerReconcileTasks` benchmark: one RECONCILE naming N
//! unknown tasks, over the real v1 HTTP API of an in-process master; time
//! until the framework has received all N UPDATE events.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use corral::{
    master::{MasterConfig, MasterModules},
    proto::v1::scheduler::{event, Event},
    server,
    wire::codec::{decode, Encoding},
};
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc};

use crate::{
    scheduler::{call_body, Subscription},
    stats::{fmt_ms, median, Table},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Unknown task ids per RECONCILE.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000, 10_000, 100_000])]
    pub tasks: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Encoding of the subscription (events) and of the RECONCILE call.
    #[arg(long, value_enum, default_value_t = Wire::Json)]
    pub encoding: Wire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    Json,
    Protobuf,
}

impl Wire {
    fn encoding(self) -> Encoding {
        match self {
            Wire::Json => Encoding::Json,
            Wire::Protobuf => Encoding::Protobuf,
        }
    }
}

struct Framework {
    client: reqwest::Client,
    url: String,
    stream_id: String,
    framework_id: String,
    /// One message per UPDATE event received (decoded).
    updates: mpsc::UnboundedReceiver<()>,
}

async fn subscribe(master: SocketAddr, encoding: Encoding) -> Result<Framework> {
    let (subscribed_tx, mut subscribed_rx) = mpsc::unbounded_channel::<String>();
    let (tx, updates) = mpsc::unbounded_channel();
    let (client, url, stream_id) =
        Subscription::open(&master.to_string(), "corral-bench-reconcile", encoding)
            .await?
            .follow(move |record| match received(record, encoding) {
                Some(Received::Update) => tx.send(()).is_ok(),
                Some(Received::Other) => true,
                Some(Received::Subscribed(id)) => {
                    let _ = subscribed_tx.send(id);
                    true
                }
                None => false,
            });
    let framework_id = tokio::time::timeout(Duration::from_secs(10), subscribed_rx.recv())
        .await
        .context("no SUBSCRIBED within 10 s")?
        .context("event stream ended")?;
    Ok(Framework {
        client,
        url,
        stream_id,
        framework_id,
        updates,
    })
}

/// What the framework makes of an event.
enum Received {
    Subscribed(String),
    Update,
    Other,
}

/// Decodes an event as a client of that encoding would: JSON into a plain
/// JSON value (as a framework in any language parses it), protobuf into
/// the generated type. None when it cannot be decoded.
fn received(record: &[u8], encoding: Encoding) -> Option<Received> {
    if encoding == Encoding::Json {
        let event: Value = serde_json::from_slice(record).ok()?;
        return Some(match event["type"].as_str() {
            Some("UPDATE") => Received::Update,
            Some("SUBSCRIBED") => Received::Subscribed(
                event["subscribed"]["framework_id"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            _ => Received::Other,
        });
    }
    let event = decode::<Event>(record, encoding).ok()?;
    Some(
        match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
            Some(event::Type::Update) => Received::Update,
            Some(event::Type::Subscribed) => Received::Subscribed(
                event
                    .subscribed
                    .map(|s| s.framework_id.value)
                    .unwrap_or_default(),
            ),
            _ => Received::Other,
        },
    )
}

/// Sends one RECONCILE of `n` unknown tasks with `call_encoding`; returns
/// the time until all `n` updates arrived, or the HTTP error.
async fn reconcile_once(
    fw: &mut Framework,
    n: usize,
    round: usize,
    call_encoding: Encoding,
) -> Result<Result<Duration, String>> {
    let tasks: Vec<Value> = (0..n)
        .map(|i| json!({"task_id": {"value": format!("r{round}-t{i}")}}))
        .collect();
    let call = json!({
        "type": "RECONCILE",
        "framework_id": {"value": fw.framework_id},
        "reconcile": {"tasks": tasks},
    });
    let payload = call_body(&call, call_encoding)?;
    // Nothing left over from an earlier round.
    while fw.updates.try_recv().is_ok() {}
    let start = Instant::now();
    let response = fw
        .client
        .post(&fw.url)
        .header("content-type", call_encoding.content_type())
        .header("mesos-stream-id", &fw.stream_id)
        .body(payload.clone())
        .send()
        .await?;
    let status = response.status();
    if status.as_u16() != 202 {
        let text = response.text().await.unwrap_or_default();
        return Ok(Err(format!(
            "HTTP {status} for a {:.1} MiB body: {}",
            payload.len() as f64 / (1024.0 * 1024.0),
            text.chars().take(120).collect::<String>()
        )));
    }
    let mut received = 0;
    while received < n {
        match tokio::time::timeout(Duration::from_secs(60), fw.updates.recv()).await {
            Ok(Some(())) => received += 1,
            Ok(None) => bail!("event stream ended after {received} of {n} updates"),
            Err(_) => bail!("only {received} of {n} updates within 60 s"),
        }
    }
    Ok(Ok(start.elapsed()))
}

pub fn run(args: &Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: &Args) -> Result<()> {
    let (registry, files) = crate::modules::registry(&[
        ("corral_allocator_drf", "org_corral_allocator_drf"),
        ("corral_hook_env", "org_corral_hook_env"),
    ])?;
    let modules = MasterModules {
        allocator: registry
            .create_allocator("org_corral_allocator_drf", "corral-bench")
            .map_err(|e| anyhow!("{e}"))?,
        hooks: vec![registry
            .create_hook("org_corral_hook_env", "corral-bench")
            .map_err(|e| anyhow!("{e}"))?]
        .into(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let master = tokio::spawn(server::master::run(
        listener,
        MasterConfig::default(),
        modules,
        async move {
            let _ = stopped.await;
        },
    ));
    let encoding = args.encoding.encoding();
    println!(
        "master: in-process at http://{addr} (modules from {}), no log subscriber installed",
        files[0]
            .parent()
            .map_or(String::new(), |p| p.display().to_string())
    );
    println!(
        "framework: v1 HTTP API, {:?} subscription; one RECONCILE of N unknown task ids (no agent id) → N UPDATE (TASK_LOST);",
        args.encoding
    );
    println!(
        "time from sending the call until the N-th UPDATE is decoded by the framework; median of {} reps. Target: 100,000 in < 1 s.",
        args.reps
    );
    let mut fw = subscribe(addr, encoding).await?;
    let mut table = Table::new(&[
        "tasks",
        "call encoding",
        "median",
        "min",
        "max",
        "updates/s (median)",
        "target",
    ]);
    let mut round = 0;
    for &n in &args.tasks {
        let mut call_encoding = encoding;
        let mut times = Vec::new();
        let mut note = String::new();
        // One untimed warm-up, which also finds out whether the call fits.
        round += 1;
        if let Err(e) = reconcile_once(&mut fw, n, round, call_encoding).await? {
            if call_encoding == Encoding::Json {
                note = format!("JSON call refused ({e}); protobuf call used");
                call_encoding = Encoding::Protobuf;
                round += 1;
                if let Err(e) = reconcile_once(&mut fw, n, round, call_encoding).await? {
                    bail!("RECONCILE of {n} tasks refused even as protobuf: {e}");
                }
            } else {
                bail!("RECONCILE of {n} tasks refused: {e}");
            }
        }
        for _ in 0..args.reps {
            round += 1;
            match reconcile_once(&mut fw, n, round, call_encoding).await? {
                Ok(d) => times.push(d.as_secs_f64() * 1e3),
                Err(e) => bail!("RECONCILE refused: {e}"),
            }
        }
        let m = median(&times);
        let target = if n == 100_000 {
            if m < 1_000.0 {
                format!("< 1 s: met ({:.1}× under)", 1_000.0 / m)
            } else {
                format!("< 1 s: MISSED by {:.1}×", m / 1_000.0)
            }
        } else {
            "-".to_owned()
        };
        table.row(vec![
            n.to_string(),
            format!(
                "{}",
                if call_encoding == Encoding::Json {
                    "json"
                } else {
                    "protobuf"
                }
            ),
            fmt_ms(m),
            fmt_ms(times.iter().copied().fold(f64::INFINITY, f64::min)),
            fmt_ms(times.iter().copied().fold(0.0, f64::max)),
            format!("{:.0}", n as f64 / (m / 1e3)),
            target,
        ]);
        if !note.is_empty() {
            println!("note ({n} tasks): {note}");
        }
    }
    table.print();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), master).await;
    Ok(())
}
