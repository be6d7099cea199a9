//! A misbehaving client must not grow the master without limit (issue 15,
//! "Resource bounds"): each test performs one attack.

use std::time::Duration;

use crate::common::{get, get_json, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use futures::StreamExt;
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

/// A request's start, sent on a fresh connection; the rest never comes.
async fn open_idle(master: std::net::SocketAddr, start: &str) -> TcpStream {
    let mut stream = TcpStream::connect(master).await.unwrap();
    stream.write_all(start.as_bytes()).await.unwrap();
    stream
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_after_the_header_timeout_and_health_answers() {
    let cluster = Cluster::start_with(Options {
        tweak_master: |m| m.http.header_read_timeout = Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let master = cluster.master;
    let started = tokio::time::Instant::now();
    // 100 connections trickling a header byte per second.
    let mut trickling = Vec::new();
    for n in 0..100 {
        let stream = open_idle(master, "GET /health HTTP/1.1\r\nHost: x\r\n").await;
        trickling.push(tokio::spawn(async move {
            let (mut read, mut write) = stream.into_split();
            let header = format!("X-Slow-{n}: {}\r\n", "a".repeat(100));
            let writer = async {
                for byte in header.bytes().cycle() {
                    if write.write_all(&[byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            let mut buf = [0u8; 256];
            tokio::select! {
                () = writer => {}
                _ = read.read(&mut buf) => {}
            }
            tokio::time::Instant::now()
        }));
    }
    // Meanwhile the master answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(format!("http://{master}/health")).await.0, 200);
    let mut scheduler = Scheduler::subscribe(master, Encoding::Json).await;
    let _ = scheduler.offer().await;
    for t in trickling {
        let closed_at = tokio::time::timeout(DEADLINE, t)
            .await
            .expect("a trickling connection closed by the master")
            .unwrap();
        let after = closed_at - started;
        assert!(
            after < Duration::from_secs(8),
            "closed only after {after:?} (header timeout 2 s)"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_health_and_agents_still_get_in() {
    let cluster = Cluster::start_with(Options {
        tweak_master: |m| {
            m.http.max_connections = Some(40);
            m.http.reserved_connections = 8;
            m.http.header_read_timeout = Duration::from_secs(60);
            m.http.reserved_header_read_timeout = Duration::from_secs(2);
        },
        ..Options::default()
    })
    .await;
    let master = cluster.master;
    // Idle connections fill every general slot (the agent holds one or two).
    let mut idle = Vec::new();
    for _ in 0..34 {
        idle.push(open_idle(master, "GET /health HTTP/1.1\r\n").await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // /health gets a reserved connection; other paths are refused there.
    assert_eq!(get(format!("http://{master}/health")).await.0, 200);
    let (code, body) = get(format!("http://{master}/master/state")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("too many connections"), "{body}");
    // Past the cap a connection is closed at once.
    let mut extra = Vec::new();
    for _ in 0..20 {
        extra.push(open_idle(master, "GET /health HTTP/1.1\r\n").await);
    }
    let mut closed = 0;
    for s in &mut extra {
        if closed_within(s, Duration::from_millis(500)).await {
            closed += 1;
        }
    }
    assert!(closed > 0, "no connection past the cap was closed");
    // Reserved slots held by idle clients are freed by their short header
    // timeout: /health answers again within it.
    eventually("/health answers at the cap", || async {
        reqwest::get(format!("http://{master}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert_eq!(
        figure(
            &metrics_when_free(master, &mut idle, &mut extra).await,
            "master/slaves_connected"
        ),
        1.0,
        "the agent stayed connected"
    );
    cluster.stop().await;
}

/// Closes the idle connections, then reads the metrics.
async fn metrics_when_free(
    master: std::net::SocketAddr,
    idle: &mut Vec<TcpStream>,
    extra: &mut Vec<TcpStream>,
) -> Value {
    idle.clear();
    extra.clear();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = reqwest::get(format!("http://{master}/metrics/snapshot")).await {
            if r.status() == 200 {
                return serde_json::from_str(&r.text().await.unwrap()).unwrap();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the master does not serve everything again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_outlive_the_idle_timeout() {
    let cluster = Cluster::start_with(Options {
        tweak_master: |m| m.http.header_read_timeout = Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let master = cluster.master;
    let mut s = Scheduler::subscribe(master, Encoding::Json).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Heartbeats (every second here) still arrive on the same stream, and
    // calls on its stream id are accepted.
    let _ = s.next("HEARTBEAT").await;
    let (code, body) = s
        .call(json!({"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": "t"}}]}}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(s.update_for("t").await["state"], "TASK_LOST");
    let m = metrics(master).await;
    assert_eq!(figure(&m, "master/frameworks_connected"), 1.0, "{m}");
    assert_eq!(figure(&m, "master/slaves_connected"), 1.0, "{m}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_bodies_at_once_are_refused_past_the_budget_and_it_is_released() {
    let cluster = Cluster::start_with(Options {
        tweak_master: |m| m.http.body_budget_bytes = 16 * 1024 * 1024,
        ..Options::default()
    })
    .await;
    let master = cluster.master;
    let url = format!("http://{master}/api/v1/scheduler");
    const BODY: usize = 4 * 1024 * 1024;
    // 32 bodies of 4 MiB, each held open half-way for a moment, so that
    // they are read at the same time: 128 MiB against a 16 MiB budget.
    let sends: Vec<_> = (0..32)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let half = bytes::Bytes::from(vec![b' '; BODY / 2]);
                let parts = futures::stream::iter([half.clone(), half]).then(|chunk| async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Ok::<_, std::io::Error>(chunk)
                });
                let response = reqwest::Client::new()
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("content-length", BODY)
                    .body(reqwest::Body::wrap_stream(parts))
                    .send()
                    .await;
                match response {
                    Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                    // Refused early, the rest of the body unsent.
                    Err(e) => (0, e.to_string()),
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(get(format!("http://{master}/health")).await.0, 200);
    let mut answers = Vec::new();
    for s in sends {
        answers.push(tokio::time::timeout(DEADLINE, s).await.unwrap().unwrap());
    }
    let refused: Vec<_> = answers.iter().filter(|(code, _)| *code == 503).collect();
    // Read whole, the blank body is then an invalid call.
    let read = answers.iter().filter(|(code, _)| *code == 400).count();
    assert!(!refused.is_empty(), "none refused: {answers:?}");
    assert!(
        refused[0].1.contains("too many request bodies"),
        "{refused:?}"
    );
    assert!(read >= 1, "some bodies fit the budget: {answers:?}");

    // Past the largest call: 413 before anything is read.
    let mut big = open_idle(
        master,
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 100000000\r\n\r\n",
    )
    .await;
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(DEADLINE, big.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than"), "{answer}");

    // The budget is back: a framework subscribes, and a 4 MiB body is read.
    let _s = Scheduler::subscribe(master, Encoding::Json).await;
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; BODY])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "read, then found invalid");
    cluster.stop().await;
}
