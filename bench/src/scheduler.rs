//! A framework speaking the v1 scheduler HTTP API in JSON, as an existing
//! Mesos client would: SUBSCRIBE, then calls on the same stream id, events
//! decoded from RecordIO into JSON values.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use corral::{
    proto::v1::scheduler::Call,
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// A call written as JSON, sent in `encoding`.
pub fn call_body(call: &Value, encoding: Encoding) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(call)?;
    Ok(match encoding {
        Encoding::Json => json,
        Encoding::Protobuf => encode(
            &decode::<Call>(&json, Encoding::Json).map_err(|e| anyhow!("{e}"))?,
            Encoding::Protobuf,
        ),
    })
}

/// A framework's SUBSCRIBE accepted by the master: where to post calls,
/// the stream id they must carry, and the event stream.
pub struct Subscription {
    pub client: reqwest::Client,
    pub url: String,
    pub stream_id: String,
    events: reqwest::Response,
}

impl Subscription {
    /// Subscribes a framework called `name` to the master at `master`
    /// (`host:port`), events and call in `encoding`.
    pub async fn open(master: &str, name: &str, encoding: Encoding) -> Result<Subscription> {
        Self::open_with(master, json!({"user": "bench", "name": name}), encoding).await
    }

    /// Subscribes with `framework_info` (an `id` in it re-subscribes).
    pub async fn open_with(
        master: &str,
        framework_info: Value,
        encoding: Encoding,
    ) -> Result<Subscription> {
        let client = reqwest::Client::new();
        let url = format!("http://{master}/api/v1/scheduler");
        let mut call =
            json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}});
        if let Some(id) = call["subscribe"]["framework_info"].get("id").cloned() {
            call["framework_id"] = id;
        }
        let response = client
            .post(&url)
            .header("content-type", encoding.content_type())
            .header("accept", encoding.content_type())
            .body(call_body(&call, encoding)?)
            .send()
            .await?;
        if response.status() != 200 {
            bail!(
                "SUBSCRIBE: {} {}",
                response.status(),
                response.text().await?
            );
        }
        let stream_id = response
            .headers()
            .get("mesos-stream-id")
            .context("no Mesos-Stream-Id")?
            .to_str()?
            .to_owned();
        Ok(Subscription {
            client,
            url,
            stream_id,
            events: response,
        })
    }

    /// Hands every event record to `each` on a task of its own, until the
    /// stream ends or `each` returns false. Returns what is needed to post
    /// calls: (client, url, stream id).
    pub fn follow(
        self,
        mut each: impl FnMut(&[u8]) -> bool + Send + 'static,
    ) -> (reqwest::Client, String, String) {
        let events = self.events;
        tokio::spawn(async move {
            let mut stream = events.bytes_stream();
            let mut reader = RecordReader::default();
            while let Some(Ok(chunk)) = stream.next().await {
                let Ok(records) = reader.push(&chunk) else {
                    return;
                };
                for record in records {
                    if !each(&record) {
                        return;
                    }
                }
            }
        });
        (self.client, self.url, self.stream_id)
    }
}

pub struct Scheduler {
    pub calls: Calls,
    events: mpsc::UnboundedReceiver<Value>,
}

/// What a framework's calls need, apart from its event stream (so that a
/// task of its own can send some).
#[derive(Clone)]
pub struct Calls {
    client: reqwest::Client,
    url: String,
    stream_id: String,
    pub framework_id: String,
}

impl std::ops::Deref for Scheduler {
    type Target = Calls;
    fn deref(&self) -> &Calls {
        &self.calls
    }
}

impl Scheduler {
    /// Subscribes a framework called `name` to the master at `master`
    /// (`host:port`) and waits for SUBSCRIBED.
    pub async fn subscribe(master: &str, name: &str) -> Result<Scheduler> {
        Self::subscribe_with(master, json!({"user": "bench", "name": name})).await
    }

    /// Subscribes with `framework_info` and waits for SUBSCRIBED.
    pub async fn subscribe_with(master: &str, framework_info: Value) -> Result<Scheduler> {
        let (tx, mut events) = mpsc::unbounded_channel();
        let (client, url, stream_id) =
            Subscription::open_with(master, framework_info, Encoding::Json)
                .await?
                .follow(move |record| {
                    serde_json::from_slice::<Value>(record)
                        .is_ok_and(|event| tx.send(event).is_ok())
                });
        let subscribed = loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .context("no SUBSCRIBED within 10 s")?
                .context("event stream ended before SUBSCRIBED")?;
            if event["type"] == "SUBSCRIBED" {
                break event;
            }
        };
        let framework_id = subscribed["subscribed"]["framework_id"]["value"]
            .as_str()
            .context("SUBSCRIBED without a framework id")?
            .to_owned();
        Ok(Scheduler {
            calls: Calls {
                client,
                url,
                stream_id,
                framework_id,
            },
            events,
        })
    }

    /// The next event, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Result<Value> {
        tokio::time::timeout(within, self.events.recv())
            .await
            .with_context(|| format!("no event within {within:?}"))?
            .context("the event stream ended")
    }
}

impl Calls {
    /// Sends a call of `kind` with `payload` under the key Mesos uses
    /// (the lower-case type); the master must answer 202.
    pub async fn call(&self, kind: &str, payload: Value) -> Result<()> {
        let call = json!({
            "type": kind,
            "framework_id": {"value": self.framework_id},
            kind.to_ascii_lowercase(): payload,
        });
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("mesos-stream-id", &self.stream_id)
            .body(call.to_string())
            .send()
            .await?;
        if response.status() != 202 {
            bail!(
                "{kind}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Launches `tasks` on `offer`; what is left goes back without a filter.
    pub async fn launch(&self, offer: &Value, tasks: Vec<Value>) -> Result<()> {
        self.call(
            "ACCEPT",
            json!({
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
                "filters": {"refuse_seconds": 0.0},
            }),
        )
        .await
    }

    /// Acknowledges an UPDATE event's status, if it carries a uuid.
    pub async fn acknowledge(&self, status: &Value) -> Result<()> {
        let Some(uuid) = status.get("uuid") else {
            return Ok(());
        };
        self.call(
            "ACKNOWLEDGE",
            json!({
                "agent_id": status["agent_id"],
                "task_id": status["task_id"],
                "uuid": uuid,
            }),
        )
        .await
    }
}

/// A command task of `cpus` and `mem` on `offer`'s agent.
pub fn command_task(id: &str, offer: &Value, command: &str, cpus: f64, mem: f64) -> Value {
    json!({
        "name": id,
        "task_id": {"value": id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
        ],
        "command": {"shell": true, "value": command}
    })
}

/// A scalar resource's amount in an offer.
pub fn offered(offer: &Value, name: &str) -> f64 {
    offer["resources"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|r| r["name"] == name)
                .filter_map(|r| r["scalar"]["value"].as_f64())
                .sum()
        })
        .unwrap_or(0.0)
}
