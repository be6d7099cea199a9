//! Offers: declines with filters are honoured until the filter expires or
//! the framework revives; SUPPRESS stops offers.

use crate::common;

use std::time::Duration;

use crate::common::{Cluster, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::json;

/// Long enough for many allocation cycles (every 100 ms in these tests).
const QUIET: Duration = Duration::from_millis(1500);

async fn no_offer_within(s: &mut Scheduler, window: Duration) {
    let got = tokio::time::timeout(window, s.next("OFFERS")).await;
    assert!(
        got.is_err(),
        "an offer came although it should not have: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_filter_holds_until_revive() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let (code, body) = s
        .call(json!({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 3600.0}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    no_offer_within(&mut s, QUIET).await;

    let (code, _) = s.call(json!({"type": "REVIVE"})).await;
    assert_eq!(code, 202);
    let again = s.offer().await;
    assert_eq!(again["agent_id"], offer["agent_id"]);
    assert_ne!(again["id"], offer["id"], "a new offer, with a new id");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_filter_expires_by_itself() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.call(json!({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 1.0}}}))
        .await;
    no_offer_within(&mut s, Duration::from_millis(700)).await;
    let again = s.offer().await;
    assert_eq!(again["agent_id"], offer["agent_id"]);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressed_frameworks_get_no_offers_until_they_revive() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    // The first offer, given back at once, then suppressed: nothing more
    // comes although the resources are free.
    let offer = s.offer().await;
    s.call(json!({"type": "SUPPRESS"})).await;
    s.call(json!({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0.0}}}))
        .await;
    no_offer_within(&mut s, QUIET).await;
    s.call(json!({"type": "REVIVE"})).await;
    s.offer().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_get_readable_4xx_answers() {
    let cluster = Cluster::start().await;
    let s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let client = common::http_client();
    let url = format!("http://{}/api/v1/scheduler", cluster.master);
    let post = |content_type: &'static str, stream: Option<String>, body: &'static str| {
        let mut r = client
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        if let Some(id) = stream {
            r = r.header("mesos-stream-id", id);
        }
        r.send()
    };
    let answer =
        |r: reqwest::Response| async move { (r.status().as_u16(), r.text().await.unwrap()) };
    let (code, text) = answer(
        post("application/json", Some(s.stream_id.clone()), "{not json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("failed to parse"), "{text}");
    let (code, _) = answer(post("text/plain", None, "{}").await.unwrap()).await;
    assert_eq!(code, 415);
    let body = r#"{"type":"REVIVE","framework_id":{"value":"x"}}"#;
    let (code, text) = answer(post("application/json", None, body).await.unwrap()).await;
    assert_eq!(code, 400);
    assert!(text.contains("Mesos-Stream-Id"), "{text}");
    let (code, text) = answer(
        post("application/json", Some("wrong".into()), body)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 400);
    assert!(text.contains("cannot be found"), "{text}");
    let (code, text) = s
        .call(json!({"type": "ACKNOWLEDGE", "acknowledge": {
        "agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"}}))
        .await;
    assert_eq!(code, 400);
    assert!(text.contains("16-byte UUID"), "{text}");
    let (code, text) = s.call(json!({"type": "ACCEPT"})).await;
    assert_eq!(code, 400);
    assert_eq!(text, "Expecting 'accept' to be present");
    // The stream survived all of this.
    let (code, _) = s.call(json!({"type": "REVIVE"})).await;
    assert_eq!(code, 202);
    // GET is not allowed.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_redirect_answer_as_mesos_does() {
    let cluster = Cluster::start().await;
    let client = common::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let version: serde_json::Value = serde_json::from_slice(
        &client
            .get(format!("http://{}/version", cluster.master))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let v = version["version"].as_str().unwrap();
    assert!(
        v.split('.').all(|p| p.parse::<u32>().is_ok()),
        "dotted integers: {v}"
    );
    let r = client
        .get(format!("http://{}/master/redirect", cluster.master))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(
        r.headers()["location"],
        format!("//127.0.0.1:{}", cluster.master.port()).as_str()
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_speaking_another_protocol_version_is_refused_by_name() {
    let cluster = Cluster::start().await;
    let r = common::http_client()
        .post(format!("http://{}/agent/v1/subscribe", cluster.master))
        .header("content-type", "application/x-protobuf")
        .header("Corral-Agent-Protocol", "2")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "agent speaks agent protocol version 2; this master speaks version 1"
    );
    cluster.stop().await;
}
