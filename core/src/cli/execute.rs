//! `corral execute`: registers a framework, launches one command task on
//! the first offer that fits, prints each state change, and exits with the
//! task's outcome (like `mesos-execute`). It speaks the public v1 scheduler
//! API in JSON, as any third-party framework would.

use std::{io::Write, time::Duration};

use futures::StreamExt;

use crate::{
    domain::convert::{resources_from_proto, resources_to_proto},
    domain::status::{is_terminal, state_of},
    domain::{parse_resources, ResourceBag},
    proto::v1::{
        self,
        scheduler::{call, event, Call, Event},
    },
    wire::{
        codec::{decode, encode, Encoding},
        recordio::RecordReader,
    },
};

type Out<'a> = &'a mut (dyn Write + Send);

/// How often to say we are still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

struct Client {
    http: reqwest::Client,
    url: String,
    stream_id: String,
    framework_id: String,
}

impl Client {
    async fn call(&self, mut call: Call) -> Result<(), String> {
        call.framework_id = Some(v1::FrameworkId {
            value: self.framework_id.clone(),
        });
        let response = self
            .http
            .post(&self.url)
            .header("content-type", Encoding::Json.content_type())
            .header("mesos-stream-id", &self.stream_id)
            .body(encode(&call, Encoding::Json))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            Err(format!(
                "the master refused the call ({status}): {}",
                response.text().await.unwrap_or_default()
            ))
        }
    }
}

fn call_of(kind: call::Type) -> Call {
    Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub async fn run(
    master: &str,
    command: &str,
    resources: &str,
    name: &str,
    out: Out<'_>,
    err: Out<'_>,
) -> std::io::Result<bool> {
    let wanted = match parse_resources(resources) {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "error: --resources: {e}")?;
            return Ok(false);
        }
    };
    match follow(master, command, &wanted, name, out).await {
        Ok(success) => Ok(success),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(false)
        }
    }
}

async fn follow(
    master: &str,
    command: &str,
    wanted: &[crate::domain::Resource],
    name: &str,
    out: Out<'_>,
) -> Result<bool, String> {
    let http = super::client::client();
    let url = format!("{}://{master}/api/v1/scheduler", super::client::scheme());
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user,
                name: name.to_owned(),
                principal: super::client::principal(),
                ..Default::default()
            },
            suppressed_roles: Vec::new(),
        }),
        ..Default::default()
    };
    let response = http
        .post(&url)
        .header("content-type", Encoding::Json.content_type())
        .header("accept", Encoding::Json.content_type())
        .body(encode(&subscribe, Encoding::Json))
        .send()
        .await
        .map_err(|e| format!("cannot reach the master at {master}: {e}"))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(format!(
            "subscription refused ({status}): {}",
            response.text().await.unwrap_or_default()
        ));
    }
    let stream_id = response
        .headers()
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut client = Client {
        http,
        url,
        stream_id,
        framework_id: String::new(),
    };
    let task_id = format!("{name}-{}", &uuid::Uuid::new_v4().to_string()[..8]);
    let wanted_bag = ResourceBag::new(wanted);
    let mut launched = false;
    let mut declined = 0usize;
    let mut body = response.bytes_stream();
    let mut reader = RecordReader::default();
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);

    loop {
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            _ = progress.tick() => {
                if !launched {
                    let _ = writeln!(out, "... still waiting for an offer with {} ({declined} offers too small so far)",
                        crate::domain::format_resources(wanted));
                }
                continue;
            }
        };
        let chunk = match chunk {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(format!("the event stream broke: {e}")),
            None => return Err("the master closed the event stream".into()),
        };
        for record in reader.push(&chunk).map_err(|e| e.to_string())? {
            let event: Event = decode(&record, Encoding::Json).map_err(|e| e.to_string())?;
            match event.r#type.and_then(|t| event::Type::try_from(t).ok()) {
                Some(event::Type::Subscribed) => {
                    client.framework_id = event
                        .subscribed
                        .map(|s| s.framework_id.value)
                        .unwrap_or_default();
                    let _ = writeln!(out, "subscribed as framework {}", client.framework_id);
                }
                Some(event::Type::Offers) => {
                    for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                        let fits = ResourceBag::new(&resources_from_proto(&offer.resources))
                            .contains(&wanted_bag);
                        if launched || !fits {
                            declined += usize::from(!launched);
                            let mut decline = call_of(call::Type::Decline);
                            decline.decline = Some(call::Decline {
                                offer_ids: vec![offer.id.clone()],
                                filters: None,
                            });
                            client.call(decline).await?;
                            continue;
                        }
                        let task = v1::TaskInfo {
                            name: name.to_owned(),
                            task_id: v1::TaskId {
                                value: task_id.clone(),
                            },
                            agent_id: offer.agent_id.clone(),
                            resources: resources_to_proto(wanted),
                            command: Some(v1::CommandInfo {
                                shell: Some(true),
                                value: Some(command.to_owned()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        };
                        let mut accept = call_of(call::Type::Accept);
                        accept.accept = Some(call::Accept {
                            offer_ids: vec![offer.id.clone()],
                            operations: vec![v1::offer::Operation {
                                r#type: Some(v1::offer::operation::Type::Launch as i32),
                                launch: Some(v1::offer::operation::Launch {
                                    task_infos: vec![task],
                                }),
                            }],
                            filters: None,
                        });
                        client.call(accept).await?;
                        launched = true;
                        let _ = writeln!(
                            out,
                            "launched task {task_id} on agent {} ({})",
                            offer.agent_id.value, offer.hostname
                        );
                    }
                }
                Some(event::Type::Update) => {
                    let Some(status) = event.update.map(|u| u.status) else {
                        continue;
                    };
                    if status.task_id.value != task_id {
                        continue;
                    }
                    let state = state_of(&status);
                    let _ = writeln!(
                        out,
                        "task {task_id}: {}{}",
                        state.as_str_name(),
                        status
                            .message
                            .as_deref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    );
                    if let Some(uuid) = status.uuid.clone() {
                        let mut ack = call_of(call::Type::Acknowledge);
                        ack.acknowledge = Some(call::Acknowledge {
                            agent_id: status.agent_id.clone().unwrap_or_default(),
                            task_id: status.task_id.clone(),
                            uuid,
                        });
                        client.call(ack).await?;
                    }
                    if is_terminal(state) {
                        if let Some(agent) = status.agent_id.as_ref() {
                            print_output(&client, master, &agent.value, &task_id, out).await;
                        }
                        let _ = client.call(call_of(call::Type::Teardown)).await;
                        return Ok(state == v1::TaskState::TaskFinished);
                    }
                }
                Some(event::Type::Error) => {
                    return Err(format!(
                        "the master says: {}",
                        event.error.map(|e| e.message).unwrap_or_default()
                    ));
                }
                _ => {}
            }
        }
    }
}

/// Prints the task's stdout from its sandbox, found through the master's
/// agent list and the agent's state, as `mesos-tail` does.
async fn print_output(client: &Client, master: &str, agent_id: &str, task_id: &str, out: Out<'_>) {
    match crate::cli::sandbox::read_file(&client.http, master, agent_id, task_id, "stdout").await {
        Ok(bytes) if !bytes.is_empty() => {
            let _ = writeln!(out, "--- stdout of {task_id} ---");
            let _ = out.write_all(&bytes);
            if !bytes.ends_with(b"\n") {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "---");
        }
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(out, "(cannot show the task's stdout: {e})");
        }
    }
}
