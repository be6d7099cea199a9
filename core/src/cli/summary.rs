//! `corral state`: a readable summary of a cluster from the master's
//! `/master/state` and `/metrics/snapshot`.

use std::io::Write;

use serde_json::Value;

use super::sandbox::get_json;

type Out<'a> = &'a mut (dyn Write + Send);

fn figure(metrics: &Value, key: &str) -> f64 {
    metrics[key].as_f64().unwrap_or(0.0)
}

/// The summary's lines.
fn lines(state: &Value, metrics: &Value) -> Vec<String> {
    let mut lines = vec![
        format!(
            "master {} ({}), up {:.0}s, version {}",
            state["id"].as_str().unwrap_or("?"),
            state["pid"].as_str().unwrap_or("?"),
            figure(metrics, "master/uptime_secs"),
            state["version"].as_str().unwrap_or("?"),
        ),
        format!(
            "agents: {} active, {} inactive",
            figure(metrics, "master/slaves_active"),
            figure(metrics, "master/slaves_inactive"),
        ),
        format!(
            "frameworks: {} active, {} inactive",
            figure(metrics, "master/frameworks_active"),
            figure(metrics, "master/frameworks_inactive"),
        ),
        format!(
            "tasks: {} staging, {} running, {} finished, {} failed, {} killed, {} lost, {} error",
            figure(metrics, "master/tasks_staging"),
            figure(metrics, "master/tasks_running"),
            figure(metrics, "master/tasks_finished"),
            figure(metrics, "master/tasks_failed"),
            figure(metrics, "master/tasks_killed"),
            figure(metrics, "master/tasks_lost"),
            figure(metrics, "master/tasks_error"),
        ),
        format!(
            "resources: cpus {}/{}, mem {}/{} MB, disk {}/{} MB (used/total)",
            figure(metrics, "master/cpus_used"),
            figure(metrics, "master/cpus_total"),
            figure(metrics, "master/mem_used"),
            figure(metrics, "master/mem_total"),
            figure(metrics, "master/disk_used"),
            figure(metrics, "master/disk_total"),
        ),
    ];
    for agent in state["slaves"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  agent {} {} {}: cpus {}/{}, mem {}/{}",
            agent["id"].as_str().unwrap_or("?"),
            agent["hostname"].as_str().unwrap_or("?"),
            if agent["active"] == true {
                "active"
            } else {
                "inactive"
            },
            agent["used_resources"]["cpus"].as_f64().unwrap_or(0.0),
            agent["resources"]["cpus"].as_f64().unwrap_or(0.0),
            agent["used_resources"]["mem"].as_f64().unwrap_or(0.0),
            agent["resources"]["mem"].as_f64().unwrap_or(0.0),
        ));
    }
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  framework {} {} {}: {} tasks",
            framework["id"].as_str().unwrap_or("?"),
            framework["name"].as_str().unwrap_or("?"),
            if framework["active"] == true {
                "active"
            } else {
                "inactive"
            },
            framework["tasks"].as_array().map_or(0, Vec::len),
        ));
    }
    lines
}

pub async fn run(master: &str, out: Out<'_>, err: Out<'_>) -> std::io::Result<bool> {
    let http = super::client::client();
    let fetched = async {
        let state = get_json(
            &http,
            &format!("{}://{master}/master/state", super::client::scheme()),
        )
        .await?;
        let metrics = get_json(
            &http,
            &format!("{}://{master}/metrics/snapshot", super::client::scheme()),
        )
        .await?;
        Ok::<_, String>((state, metrics))
    }
    .await;
    match fetched {
        Ok((state, metrics)) => {
            for line in lines(&state, &metrics) {
                writeln!(out, "{line}")?;
            }
            Ok(true)
        }
        Err(e) => {
            writeln!(err, "error: cannot read the master's state: {e}")?;
            Ok(false)
        }
    }
}
