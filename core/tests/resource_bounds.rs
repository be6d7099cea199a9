//! A misbehaving client must not grow the master without limit (issue 15,
//! "Resource bounds"): each test performs one attack.

mod common;

use std::time::Duration;

use common::{get, get_json, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// How long any one wait of these tests may take.
const DEADLINE: Duration = Duration::from_secs(30);

async fn metrics(master: std::net::SocketAddr) -> Value {
    get_json(format!("http://{master}/metrics/snapshot")).await
}

fn figure(m: &Value, key: &str) -> f64 {
    m[key].as_f64().unwrap_or_else(|| panic!("no {key} in {m}"))
}

/// Polls `check` every 100 ms until it holds or `DEADLINE` passes.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A framework that subscribes over a raw socket with a tiny receive
/// buffer, then never reads: returns the socket, what was read with the
/// headers, the stream id and the framework id.
async fn subscribe_and_stop_reading(master: std::net::SocketAddr) -> (TcpStream, String, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(master).await.unwrap();
    let body = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "user": "tester", "name": "never-reads"}}})
    .to_string();
    let request = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {master}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let marker = "\"framework_id\":{\"value\":\"";
    let text = loop {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("SUBSCRIBED in time")
            .unwrap();
        assert!(n > 0, "the master closed the stream at once");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text
            .find(marker)
            .is_some_and(|i| text[i + marker.len()..].contains('"'))
        {
            break text;
        }
    };
    let stream_id = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("mesos-stream-id:")
                .then(|| l["mesos-stream-id:".len()..].trim().to_owned())
        })
        .expect("a Mesos-Stream-Id header");
    let start = text.find(marker).unwrap() + marker.len();
    let framework_id = text[start..start + text[start..].find('"').unwrap()].to_owned();
    (stream, stream_id, framework_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_that_never_reads_its_stream_is_disconnected_and_its_queue_released() {
    let cluster = Cluster::start_with(Options {
        tweak_master: |m| m.framework_queue_bytes = 4 * 1024 * 1024,
        ..Options::default()
    })
    .await;
    let master = cluster.master;
    let mut reader = Scheduler::subscribe(master, Encoding::Json).await;
    let (mut slow, stream_id, framework_id) = subscribe_and_stop_reading(master).await;

    // 200k unknown tasks: ~200 MiB of answers queued if nothing bounded them.
    let tasks: Vec<Value> = (0..200_000)
        .map(|n| json!({"task_id": {"value": format!("unknown-{n}")}}))
        .collect();
    let call = json!({"type": "RECONCILE", "framework_id": {"value": framework_id},
        "reconcile": {"tasks": tasks}});
    let response = reqwest::Client::new()
        .post(format!("http://{master}/api/v1/scheduler"))
        .header("content-type", "application/json")
        .header("mesos-stream-id", &stream_id)
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{:?}", response.text().await);

    // The master closes the queue, says so, and disconnects the framework.
    eventually("the slow framework disconnected", || async {
        let m = metrics(master).await;
        figure(&m, "master/event_queue_overflows") == 1.0
            && figure(&m, "master/frameworks_disconnected") == 1.0
    })
    .await;
    let m = metrics(master).await;
    assert_eq!(
        figure(&m, "master/frameworks_disconnected_slow"),
        1.0,
        "{m}"
    );
    assert_eq!(figure(&m, "master/frameworks_connected"), 1.0, "{m}");
    // Its memory went back: what is queued now is far below the bound.
    eventually("the queued bytes fall back", || async {
        figure(&metrics(master).await, "master/event_queue_bytes") < 256.0 * 1024.0
    })
    .await;

    // Its stream ends: reading now gives what the kernel buffered, then
    // the chunked body's end (or the connection's).
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0usize;
    tokio::time::timeout(DEADLINE, async {
        loop {
            let n = slow.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            total += n;
            tail.extend_from_slice(&buf[..n]);
            if tail.ends_with(b"\r\n0\r\n\r\n") {
                break;
            }
            let keep = tail.len().saturating_sub(16);
            tail.drain(..keep);
        }
    })
    .await
    .expect("the slow framework's stream ends");
    assert!(
        total < 64 * 1024 * 1024,
        "only buffered bytes were left to read: {total}"
    );

    // The other framework was served meanwhile and still is.
    let (code, body) = reader
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": "mine"}}]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let status = reader.update_for("mine").await;
    assert_eq!(status["state"], "TASK_LOST", "{status}");
    let _ = reader.offer().await;
    assert_eq!(get(format!("http://{master}/health")).await.0, 200);
    cluster.stop().await;
}
