//! `corral tail`: a task's stdout (or stderr) from its sandbox, like
//! `mesos-tail`; `--follow` keeps printing until the task has ended and its
//! file has no more to give. What it prints is the file's bytes, exactly.

use std::{io::Write, time::Duration};

use serde_json::Value;

use super::sandbox::{agent_endpoint, get_json, read_from, sandbox_of};

type Out<'a> = &'a mut (dyn Write + Send);

/// How often `--follow` polls.
const POLL: Duration = Duration::from_millis(500);

/// The task's agent id and whether it has ended, from `/master/tasks`.
async fn task_status(
    http: &reqwest::Client,
    master: &str,
    task_id: &str,
) -> Result<(String, bool), String> {
    let url = reqwest::Url::parse_with_params(
        &format!("{}://{master}/master/tasks", super::client::scheme()),
        &[("task_id", task_id)],
    )
    .map_err(|e| e.to_string())?;
    let tasks = get_json(http, url.as_str()).await?;
    let task: &Value = tasks["tasks"]
        .as_array()
        .and_then(|l| l.first())
        .ok_or_else(|| format!("the master knows no task '{task_id}'"))?;
    let state = task["state"].as_str().unwrap_or_default();
    let ended = !matches!(
        state,
        "TASK_STAGING" | "TASK_STARTING" | "TASK_RUNNING" | "TASK_KILLING"
    );
    Ok((
        task["slave_id"].as_str().unwrap_or_default().to_owned(),
        ended,
    ))
}

pub async fn run(
    master: &str,
    task_id: &str,
    file: &str,
    follow: bool,
    out: Out<'_>,
    err: Out<'_>,
) -> std::io::Result<bool> {
    let http = super::client::client();
    let located = async {
        let (agent_id, _) = task_status(&http, master, task_id).await?;
        let agent = agent_endpoint(&http, master, &agent_id).await?;
        let dir = sandbox_of(&http, &agent, task_id).await?;
        Ok::<_, String>((agent, format!("{dir}/{file}")))
    }
    .await;
    let (agent, path) = match located {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(false);
        }
    };
    let mut offset = 0;
    loop {
        let ended_before = !follow
            || match task_status(&http, master, task_id).await {
                Ok((_, ended)) => ended,
                // A task the master no longer knows has ended too.
                Err(_) => true,
            };
        match read_from(&http, &agent, &path, offset).await {
            Ok((data, next)) => {
                out.write_all(&data)?;
                out.flush()?;
                offset = next;
                // Once the task has ended, drain what is left, then stop.
                if ended_before && data.is_empty() {
                    return Ok(true);
                }
                if !data.is_empty() {
                    continue;
                }
            }
            Err(e) => {
                writeln!(err, "error: {e}")?;
                return Ok(false);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
