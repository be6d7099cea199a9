//! Finding a task's sandbox and reading its files, the way `mesos-tail`
//! does: the master lists agents, the agent's `/state` names sandboxes, and
//! `/files/read` serves them, one character per byte of the file
//! (`wire::files`), decoded here back to the exact bytes.

use serde_json::Value;

use crate::wire::files::decode_data;

pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: {e}"))
}

/// `host:port` of agent `agent_id`, from the master.
pub async fn agent_endpoint(
    http: &reqwest::Client,
    master: &str,
    agent_id: &str,
) -> Result<String, String> {
    let slaves = get_json(
        http,
        &format!("{}://{master}/master/slaves", super::client::scheme()),
    )
    .await?;
    slaves["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == agent_id)
        .and_then(|s| s["pid"].as_str())
        .and_then(|pid| pid.split_once('@').map(|(_, addr)| addr.to_owned()))
        .ok_or_else(|| format!("agent {agent_id} is not registered with the master"))
}

/// The sandbox directory of the executor that ran `task_id`.
pub async fn sandbox_of(
    http: &reqwest::Client,
    agent: &str,
    task_id: &str,
) -> Result<String, String> {
    let state = get_json(
        http,
        &format!("{}://{agent}/state", super::client::scheme()),
    )
    .await?;
    // Frameworks that left the agent are listed apart, as Mesos does.
    let executors = ["frameworks", "completed_frameworks"]
        .iter()
        .flat_map(|k| state[*k].as_array().cloned().unwrap_or_default())
        .flat_map(|f| {
            ["executors", "completed_executors"]
                .map(|k| f[k].as_array().cloned().unwrap_or_default())
        })
        .flatten();
    for executor in executors {
        let has_task = ["tasks", "completed_tasks"]
            .iter()
            .flat_map(|k| executor[*k].as_array().cloned().unwrap_or_default())
            .any(|t| t["id"] == task_id);
        if has_task || executor["id"] == task_id {
            if let Some(dir) = executor["directory"].as_str() {
                return Ok(dir.to_owned());
            }
        }
    }
    Err(format!("agent {agent} has no sandbox for task {task_id}"))
}

/// The first part (up to what one `/files/read` gives) of `file` in the
/// sandbox of `task_id`, byte for byte.
pub async fn read_file(
    http: &reqwest::Client,
    master: &str,
    agent_id: &str,
    task_id: &str,
    file: &str,
) -> Result<Vec<u8>, String> {
    let agent = agent_endpoint(http, master, agent_id).await?;
    let dir = sandbox_of(http, &agent, task_id).await?;
    let (data, _) = read_from(http, &agent, &format!("{dir}/{file}"), 0).await?;
    Ok(data)
}

/// Reads `path` on `agent` from `offset`: the bytes and the offset after
/// them.
pub async fn read_from(
    http: &reqwest::Client,
    agent: &str,
    path: &str,
    offset: u64,
) -> Result<(Vec<u8>, u64), String> {
    let url = reqwest::Url::parse_with_params(
        &format!("{}://{agent}/files/read", super::client::scheme()),
        &[("path", path.to_owned()), ("offset", offset.to_string())],
    )
    .map_err(|e| e.to_string())?;
    let body = get_json(http, url.as_str()).await?;
    let data = decode_data(body["data"].as_str().unwrap_or_default())
        .map_err(|e| format!("{url}: {e}"))?;
    let next = body["offset"].as_u64().unwrap_or(offset) + data.len() as u64;
    Ok((data, next))
}
