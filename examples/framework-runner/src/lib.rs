//! A minimal Mesos v1 framework: it subscribes, packs as many of its N
//! tasks into each offer as fit, acknowledges every update, and finishes
//! when all tasks have ended. It works against Corral or Apache Mesos alike.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::{json, Value};

/// What to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// `host:port` of the master.
    pub master: String,
    pub tasks: usize,
    pub command: String,
    pub cpus: f64,
    pub mem: f64,
}

/// How the tasks ended, by final state (`TASK_FINISHED`, `TASK_FAILED`, ...).
pub type Outcome = BTreeMap<String, String>;

struct Api {
    http: reqwest::Client,
    url: String,
    stream_id: String,
    framework_id: Value,
}

impl Api {
    async fn call(&self, mut body: Value) -> Result<(), String> {
        body["framework_id"] = self.framework_id.clone();
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("mesos-stream-id", &self.stream_id)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            code => Err(format!(
                "call refused ({code}): {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }
}

fn scalar(resources: &Value, name: &str) -> f64 {
    resources
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == name)
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum()
}

fn terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_LOST"
            | "TASK_DROPPED"
            | "TASK_GONE"
    )
}

/// Runs the job; returns each task's final state.
pub async fn run(job: &Job) -> Result<Outcome, String> {
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/scheduler", job.master);
    let subscribe = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "root", "name": "example-runner"}}});
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(subscribe.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("subscribe refused: {}", response.status()));
    }
    let stream_id = response.headers()["mesos-stream-id"]
        .to_str()
        .map_err(|e| e.to_string())?
        .to_owned();
    let mut api = Api {
        http,
        url,
        stream_id,
        framework_id: Value::Null,
    };

    let mut next_task = 0;
    let mut outcome = Outcome::new();
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        // RecordIO: "<length>\n<record>".
        while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
            let length: usize = std::str::from_utf8(&buffer[..newline])
                .map_err(|e| e.to_string())?
                .parse()
                .map_err(|_| "bad RecordIO length")?;
            if buffer.len() < newline + 1 + length {
                break;
            }
            let event: Value = serde_json::from_slice(&buffer[newline + 1..newline + 1 + length])
                .map_err(|e| e.to_string())?;
            buffer.drain(..newline + 1 + length);
            match event["type"].as_str() {
                Some("SUBSCRIBED") => {
                    api.framework_id = event["subscribed"]["framework_id"].clone()
                }
                Some("OFFERS") => {
                    for offer in event["offers"]["offers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let (mut cpus, mut mem) = (
                            scalar(&offer["resources"], "cpus"),
                            scalar(&offer["resources"], "mem"),
                        );
                        let mut tasks = Vec::new();
                        while next_task < job.tasks && cpus >= job.cpus && mem >= job.mem {
                            tasks.push(json!({
                                "name": format!("runner-{next_task}"),
                                "task_id": {"value": format!("runner-{next_task}")},
                                "agent_id": offer["agent_id"],
                                "resources": [
                                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": job.cpus}},
                                    {"name": "mem", "type": "SCALAR", "scalar": {"value": job.mem}}
                                ],
                                "command": {"shell": true, "value": job.command}
                            }));
                            next_task += 1;
                            cpus -= job.cpus;
                            mem -= job.mem;
                        }
                        let call = if tasks.is_empty() {
                            json!({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]]}})
                        } else {
                            json!({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]],
                                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}]}})
                        };
                        api.call(call).await?;
                    }
                }
                Some("UPDATE") => {
                    let status = &event["update"]["status"];
                    if status.get("uuid").is_some() {
                        api.call(json!({"type": "ACKNOWLEDGE", "acknowledge": {
                            "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}}))
                            .await?;
                    }
                    let state = status["state"].as_str().unwrap_or_default();
                    if terminal(state) {
                        outcome.insert(
                            status["task_id"]["value"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            state.to_owned(),
                        );
                        if outcome.len() == job.tasks {
                            api.call(json!({"type": "TEARDOWN"})).await?;
                            return Ok(outcome);
                        }
                    }
                }
                Some("ERROR") => {
                    return Err(format!("master error: {}", event["error"]["message"]))
                }
                _ => {}
            }
        }
    }
    Err("the master closed the event stream".into())
}
