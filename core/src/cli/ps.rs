//! `corral ps`: the running tasks of a cluster, like `mesos-ps`.

use std::io::Write;

use serde_json::Value;

use super::sandbox::get_json;

type Out<'a> = &'a mut (dyn Write + Send);

/// One row per task in `/master/state`'s frameworks (`all`: completed too).
fn rows(state: &Value, all: bool) -> Vec<[String; 7]> {
    let agents: std::collections::BTreeMap<&str, &str> = state["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["id"].as_str()?, s["hostname"].as_str()?)))
        .collect();
    let mut rows = Vec::new();
    let frameworks = state["frameworks"].as_array().into_iter().flatten();
    let completed = state["completed_frameworks"]
        .as_array()
        .into_iter()
        .flatten();
    let shown: Vec<&Value> = if all {
        frameworks.chain(completed).collect()
    } else {
        frameworks.collect()
    };
    for framework in shown {
        let lists: &[&str] = if all {
            &["tasks", "completed_tasks"]
        } else {
            &["tasks"]
        };
        for list in lists {
            for t in framework[*list].as_array().into_iter().flatten() {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                let agent = t["slave_id"].as_str().unwrap_or_default();
                rows.push([
                    text(&t["id"]),
                    text(&t["name"]),
                    text(&t["state"]).trim_start_matches("TASK_").to_owned(),
                    text(&framework["name"]),
                    agents.get(agent).copied().unwrap_or(agent).to_owned(),
                    format!("{}", t["resources"]["cpus"].as_f64().unwrap_or(0.0)),
                    format!("{}", t["resources"]["mem"].as_f64().unwrap_or(0.0)),
                ]);
            }
        }
    }
    rows
}

/// Prints the tasks as a table; `all` includes finished ones.
pub async fn run(master: &str, all: bool, out: Out<'_>, err: Out<'_>) -> std::io::Result<bool> {
    let http = super::client::client();
    let state = match get_json(
        &http,
        &format!("{}://{master}/master/state", super::client::scheme()),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: cannot read the master's state: {e}")?;
            return Ok(false);
        }
    };
    let header = ["TASK", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM"].map(str::to_owned);
    let rows = rows(&state, all);
    let table: Vec<&[String; 7]> = std::iter::once(&header).chain(rows.iter()).collect();
    let widths: Vec<usize> = (0..7)
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::rows;

    #[test]
    fn rows_name_the_agent_by_hostname_and_skip_finished_tasks() {
        let state = json!({
            "slaves": [{"id": "S0", "hostname": "node-1"}],
            "frameworks": [{"name": "web", "tasks": [
                {"id": "t1", "name": "nginx", "state": "TASK_RUNNING", "slave_id": "S0",
                 "resources": {"cpus": 0.5, "mem": 64.0}}],
              "completed_tasks": [{"id": "t0", "name": "old", "state": "TASK_FINISHED", "slave_id": "S0",
                 "resources": {"cpus": 1.0, "mem": 32.0}}]}]
        });
        let running = rows(&state, false);
        assert_eq!(running.len(), 1);
        assert_eq!(
            running[0],
            ["t1", "nginx", "RUNNING", "web", "node-1", "0.5", "64"].map(str::to_owned)
        );
        assert_eq!(rows(&state, true).len(), 2);
    }
}
