//! The web UI in a real headless Chromium, against `corral local` run as
//! its own process: a task that finishes with output, one that fails and
//! one still printing. The browser sits in a network namespace of its own
//! and reaches only the master, so the agent pages, sandbox listings and
//! the live tail it shows prove the master's proxy.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    cli_local::{execute, Local},
    common::{browser, get_json},
};

/// A `corral execute` left running, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The task id `corral execute` printed (`launched task <id> on ...`).
fn launched_task(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("launched task "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no 'launched task' line in:\n{stdout}"))
        .to_owned()
}

/// The one task of `state` on the master, once there is one.
async fn task_in(master: &str, state: &str) -> Value {
    let deadline = Instant::now() + browser::PAGE_TIMEOUT;
    loop {
        let page = get_json(format!("http://{master}/ui/api/tasks?state={state}")).await;
        if let Some(task) = page["items"].get(0) {
            return task.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {state} task within {:?}",
            browser::PAGE_TIMEOUT
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The highest `tick N` in `text`.
fn last_tick(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("tick ")?.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_the_cluster_its_failures_and_sandboxes_through_the_master() {
    if browser::skip_without_browser("the_ui_shows_the_cluster_its_failures_and_sandboxes") {
        return;
    }
    let local = tokio::task::spawn_blocking(Local::start).await.unwrap();
    let master = local.master.clone();
    let finished = {
        let master = master.clone();
        tokio::task::spawn_blocking(move || execute(&master, "echo hello-from-the-ui-test"))
            .await
            .unwrap()
    };
    assert!(finished.status.success(), "{finished:?}");
    let finished_id = launched_task(&String::from_utf8_lossy(&finished.stdout));
    let failed = {
        let master = master.clone();
        tokio::task::spawn_blocking(move || execute(&master, "echo about-to-fail >&2; exit 3"))
            .await
            .unwrap()
    };
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let failed_id = launched_task(&String::from_utf8_lossy(&failed.stdout));
    let _printer = Running(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["execute", "--master", &master, "--command"])
            .arg("for i in $(seq 1 1500); do echo tick $i; sleep 0.2; done")
            .env("CORRAL_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let printing = task_in(&master, "TASK_RUNNING").await;
    let printing_id = printing["id"].as_str().unwrap().to_owned();
    let printing_framework = printing["framework_id"].as_str().unwrap().to_owned();
    let failed_task = task_in(&master, "TASK_FAILED").await;
    let failed_framework = failed_task["framework_id"].as_str().unwrap().to_owned();
    assert_eq!(failed_task["id"], failed_id.as_str());
    let agent_id = printing["agent_id"].as_str().unwrap().to_owned();

    let b = browser::Browser::start(master.parse().unwrap()).await;
    // The premise: the browser's side reaches the master (through the
    // forwarder) but not the agent.
    let forwarded = b.master_url.trim_start_matches("http://").to_owned();
    assert!(b.reaches(&forwarded), "the browser cannot reach the master");
    assert!(
        !b.reaches(&local.agent),
        "the browser's side reaches the agent at {}: the test would prove nothing",
        local.agent
    );

    // Overview: the counts, live.
    b.open("/").await;
    for (state, n) in [
        ("TASK_FINISHED", "1"),
        ("TASK_FAILED", "1"),
        ("TASK_RUNNING", "1"),
    ] {
        b.text_when(&format!("#count-{state} .n"), state, |t| t == n)
            .await;
    }
    b.text_when("#agents-active", "active agents", |t| t == "1")
        .await;
    b.text_when("#tasks-table", "latest changes", |t| {
        t.contains(&failed_id) && t.contains("REASON_COMMAND_EXECUTOR_FAILED")
    })
    .await;
    b.screenshot("overview").await;

    // Frameworks: the printer's is active; the two that ended completed.
    b.open("/frameworks").await;
    b.text_when("#frameworks-table", "active frameworks", |t| {
        t.contains(&printing_framework)
    })
    .await;
    b.open("/frameworks?completed=true").await;
    b.text_when("#frameworks-table", "completed frameworks", |t| {
        t.contains(&failed_framework)
    })
    .await;
    b.open(&format!("/frameworks/{printing_framework}")).await;
    b.text_when("#tasks-table", "the framework's running task", |t| {
        t.contains(&printing_id) && t.contains("RUNNING")
    })
    .await;
    b.screenshot("framework").await;

    // The agent's page: its executors and usage come from the agent,
    // through the master.
    b.open("/agents").await;
    b.text_when("#agents-table", "the agent list", |t| t.contains(&agent_id))
        .await;
    b.open(&format!("/agents/{agent_id}")).await;
    b.text_when("#executors-table", "the agent's executors", |t| {
        t.contains(&printing_id)
    })
    .await;
    b.text_when("#statistics-table", "the agent's usage", |t| {
        t.contains(&printing_id)
    })
    .await;
    b.screenshot("agent").await;

    // The failed task says why, in one click from the overview.
    b.open(&format!("/tasks/{failed_framework}/{failed_id}"))
        .await;
    b.text_when("#why", "why the task failed", |t| {
        t.contains("REASON_COMMAND_EXECUTOR_FAILED") && t.contains("Command exited with status 3")
    })
    .await;
    b.text_when("#status-history", "the status history", |t| {
        t.contains("RUNNING") && t.contains("FAILED") && t.contains("SOURCE_EXECUTOR")
    })
    .await;
    b.screenshot("failed-task").await;
    b.open("/tasks?state=TASK_FAILED").await;
    let failed_list = b
        .text_when("#tasks-table", "the failed-tasks filter", |t| {
            t.contains(&failed_id)
        })
        .await;
    assert!(
        !failed_list.contains(&printing_id) && !failed_list.contains(&finished_id),
        "the filter lists other tasks: {failed_list}"
    );

    // The finished task's stdout, from its page's sandbox link.
    let finished_task = get_json(format!("http://{master}/ui/api/tasks?q={finished_id}")).await;
    let finished_framework = finished_task["items"][0]["framework_id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.open(&format!("/tasks/{finished_framework}/{finished_id}"))
        .await;
    b.click("#sandbox-link", "browse").await;
    b.text_when("#sandbox-listing", "the sandbox listing", |t| {
        t.contains("stdout") && t.contains("stderr")
    })
    .await;
    b.screenshot("sandbox").await;
    b.open(&format!("/tasks/{finished_framework}/{finished_id}"))
        .await;
    b.click("#sandbox-stdout", "stdout").await;
    b.text_when("#file-content", "the finished task's stdout", |t| {
        t.contains("hello-from-the-ui-test")
    })
    .await;

    // The printer's stdout follows as it writes: a line printed after the
    // page opened shows without a reload.
    b.open(&format!("/tasks/{printing_framework}/{printing_id}"))
        .await;
    b.click("#sandbox-stdout", "stdout").await;
    let first = b
        .text_when("#file-content", "the printer's first lines", |t| {
            last_tick(t) > 0
        })
        .await;
    let seen = last_tick(&first);
    let later = b
        .text_when(
            "#file-content",
            "a line printed after the page opened",
            |t| last_tick(t) >= seen + 3,
        )
        .await;
    assert!(
        later.starts_with(&first[..first.len().min(40)]),
        "the tail was reloaded rather than followed:\n{first}\n---\n{later}"
    );
    b.screenshot("live-tail").await;

    // An escape through the master's proxy, from the page itself.
    let sandbox_read = format!("/ui/api/agents/{agent_id}/files/read");
    let answers = b
        .run_async(
            "const [base, done] = [arguments[0], arguments[arguments.length - 1]];
             Promise.all(['/tmp/../etc/passwd', '/etc/passwd'].map((p) =>
               fetch(base + '?offset=0&path=' + encodeURIComponent(p))
                 .then(async (r) => [r.status, await r.text()])))
               .then(done, (e) => done(String(e)));",
            vec![json!(sandbox_read)],
        )
        .await;
    assert_eq!(answers[0][0], 400, "{answers}");
    let outside = answers[1][0].as_u64().unwrap_or_default();
    assert!(outside == 403 || outside == 404, "{answers}");
    assert!(!answers.to_string().contains("root:x:"), "{answers}");

    b.close().await;
    drop(_printer);
    let stopped = tokio::task::spawn_blocking(move || local.stop())
        .await
        .unwrap();
    assert!(stopped.success(), "corral local: {stopped}");
}
