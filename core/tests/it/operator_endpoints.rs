//! The operator surfaces in Mesos' shapes: master and agent state, flags,
//! metrics (JSON and Prometheus), tasks with filters, and sandbox browsing
//! and reading that cannot escape the agent's sandboxes.

use crate::common::{get, get_json, task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::json;

/// A cluster with one framework, one running task (`sleeper`) and one
/// finished task (`quick`).
pub(crate) async fn busy_cluster() -> (Cluster, Scheduler) {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(
        &offer,
        vec![
            task("sleeper", &offer, "echo sleeping; sleep 600", 0.5, 64.0),
            task("quick", &offer, "echo done", 0.1, 32.0),
        ],
    )
    .await;
    for id in ["sleeper", "quick"] {
        assert_eq!(s.update_for(id).await["state"], "TASK_RUNNING");
    }
    assert_eq!(s.update_for("quick").await["state"], "TASK_FINISHED");
    (cluster, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_state_frameworks_tasks_and_flags_have_mesos_shapes() {
    let (cluster, s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    for path in ["/master/state", "/state.json", "/master/state.json"] {
        let state = get_json(format!("{master}{path}")).await;
        for key in [
            "version",
            "id",
            "pid",
            "hostname",
            "start_time",
            "leader",
            "flags",
        ] {
            assert!(state.get(key).is_some(), "{path} has '{key}': {state}");
        }
        assert_eq!(state["activated_slaves"], 1);
        let agent = &state["slaves"][0];
        assert_eq!(agent["resources"]["cpus"], json!(4.0), "{agent}");
        assert_eq!(agent["resources"]["ports"], "[31000-31100]");
        assert_eq!(agent["used_resources"]["cpus"], json!(0.5), "{agent}");
        assert_eq!(agent["active"], true);
        let framework = &state["frameworks"][0];
        assert_eq!(framework["id"], s.framework_id.as_str());
        assert_eq!(framework["active"], true);
        assert_eq!(framework["used_resources"]["mem"], json!(64.0));
        let running = &framework["tasks"][0];
        assert_eq!(running["id"], "sleeper");
        assert_eq!(running["state"], "TASK_RUNNING");
        assert_eq!(running["slave_id"], agent["id"]);
        assert_eq!(running["framework_id"], s.framework_id.as_str());
        assert_eq!(
            running["executor_id"], "",
            "command tasks have no executor id"
        );
        assert_eq!(running["statuses"][0]["state"], "TASK_RUNNING");
        // Scalars summed, the four Mesos always writes present.
        assert_eq!(running["resources"]["cpus"], json!(0.5), "{running}");
        assert_eq!(running["resources"]["gpus"], json!(0.0), "{running}");
        assert!(running["labels"].is_array(), "{running}");
        assert_eq!(state["completed_frameworks"], json!([]));
        let done = &framework["completed_tasks"][0];
        assert_eq!(done["id"], "quick");
        assert_eq!(done["state"], "TASK_FINISHED");
    }

    let frameworks = get_json(format!("{master}/master/frameworks")).await;
    assert_eq!(frameworks["frameworks"].as_array().unwrap().len(), 1);
    let none = get_json(format!("{master}/master/frameworks?framework_id=nope")).await;
    assert_eq!(none["frameworks"], json!([]));
    let slaves = get_json(format!("{master}/master/slaves")).await;
    assert_eq!(slaves["slaves"].as_array().unwrap().len(), 1);

    let tasks = get_json(format!("{master}/master/tasks")).await;
    let ids: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{tasks}");
    assert!(
        ids.contains(&"sleeper") && ids.contains(&"quick"),
        "{ids:?}"
    );
    let one = get_json(format!("{master}/master/tasks?task_id=quick")).await;
    assert_eq!(one["tasks"][0]["state"], "TASK_FINISHED");
    let limited = get_json(format!("{master}/master/tasks?limit=1")).await;
    assert_eq!(limited["tasks"].as_array().unwrap().len(), 1);
    let (code, body) = get(format!("{master}/master/tasks?order=sideways")).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("'order'"), "{body}");
    let (code, body) = get(format!("{master}/master/tasks?limit=many")).await;
    assert_eq!(code, 400, "{body}");

    let flags = get_json(format!("{master}/master/flags")).await;
    assert_eq!(flags["flags"]["allocator"], "org_corral_allocator_drf");
    assert_eq!(flags["flags"]["allocation_interval"], "100ms");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_tasks_agents_frameworks_and_calls() {
    let (cluster, _s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let m = get_json(format!("{master}/metrics/snapshot")).await;
    let figure = |k: &str| {
        m[k].as_f64()
            .unwrap_or_else(|| panic!("metrics/snapshot has no '{k}': {m}"))
    };
    assert_eq!(figure("master/tasks_running"), 1.0);
    assert_eq!(figure("master/tasks_finished"), 1.0);
    assert_eq!(figure("master/tasks_failed"), 0.0);
    assert_eq!(figure("master/slaves_active"), 1.0);
    assert_eq!(figure("master/frameworks_active"), 1.0);
    assert_eq!(figure("master/cpus_total"), 4.0);
    assert_eq!(figure("master/cpus_used"), 0.5);
    assert!(figure("master/uptime_secs") > 0.0);
    assert!(figure("master/messages_launch_tasks") >= 1.0);
    assert_eq!(figure("master/messages_register_framework"), 1.0);
    assert!(figure("allocator/mesos/allocation_runs") >= 1.0);
    assert_eq!(figure("master/slave_registrations"), 1.0);

    let (code, text) = get(format!("{master}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        text.contains("# TYPE corral_master_tasks_running gauge\ncorral_master_tasks_running 1\n"),
        "{text}"
    );

    let agent = format!("http://{}", cluster.agent);
    // The finished task's executor leaves once its last update is
    // acknowledged; wait for that before reading the agent's figures.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let a = loop {
        let a = get_json(format!("{agent}/metrics/snapshot")).await;
        if a["slave/executors_running"] == json!(1.0) {
            break a;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "executors never settled: {a}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(a["slave/registered"], json!(1.0), "{a}");
    assert_eq!(a["slave/tasks_running"], json!(1.0), "{a}");
    assert_eq!(a["slave/tasks_finished"], json!(1.0), "{a}");
    assert_eq!(a["slave/cpus_total"], json!(4.0), "{a}");
    assert_eq!(a["slave/cpus_used"], json!(0.5), "{a}");
    assert_eq!(a["slave/executors_running"], json!(1.0), "{a}");
    let flags = get_json(format!("{agent}/flags")).await;
    assert_eq!(
        flags["flags"]["work_dir"],
        cluster.work_dir.path().display().to_string()
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_can_be_browsed_and_read_but_not_escaped() {
    let (cluster, _s) = busy_cluster().await;
    let agent = format!("http://{}", cluster.agent);
    let sandbox = cluster.sandbox_of("sleeper");
    let dir = sandbox.display().to_string();

    let listing = get_json(format!("{agent}/files/browse?path={dir}")).await;
    let stdout = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == format!("{dir}/stdout"))
        .unwrap_or_else(|| panic!("stdout listed: {listing}"));
    assert_eq!(stdout["mode"].as_str().unwrap().len(), 10);
    assert!(stdout["mode"].as_str().unwrap().starts_with('-'));
    let owner = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    assert_eq!(stdout["uid"], owner.as_str(), "owners are names: {stdout}");
    assert!(
        stdout["gid"].as_str().is_some_and(|g| !g.is_empty()),
        "{stdout}"
    );
    assert!(stdout["size"].as_u64().is_some() && stdout["mtime"].as_i64().is_some());

    let read = get_json(format!("{agent}/files/read?path={dir}/stdout&offset=0")).await;
    assert!(
        read["data"].as_str().unwrap().contains("sleeping"),
        "{read}"
    );
    let size = get_json(format!("{agent}/files/read?path={dir}/stdout&offset=-1")).await;
    assert_eq!(size["data"], "");
    assert!(size["offset"].as_u64().unwrap() > 0);

    // Escapes: a symlink out of the sandbox, `..`, an absolute path
    // elsewhere, a relative path; and a path that does not exist.
    std::os::unix::fs::symlink("/etc/passwd", sandbox.join("passwd")).unwrap();
    let cases = [
        (format!("{dir}/passwd"), 403),
        (format!("{dir}/../../../../../../../../../etc/passwd"), 403),
        ("/etc/passwd".to_owned(), 403),
        ("/no/such/file/outside".to_owned(), 403),
        ("etc/passwd".to_owned(), 400),
        (format!("{dir}/no-such-file"), 404),
    ];
    for (path, expected) in cases {
        for endpoint in ["read", "browse"] {
            let (code, body) = get(format!("{agent}/files/{endpoint}?path={path}")).await;
            assert_eq!(code, expected, "/files/{endpoint}?path={path}: {body}");
            assert!(
                !body.contains("root:"),
                "nothing of /etc/passwd leaks: {body}"
            );
        }
    }
    let (code, _) = get(format!("{agent}/files/browse")).await;
    assert_eq!(code, 400, "browse without a path");
    cluster.stop().await;
}

/// Polls the agent's `/state` until `done` holds of it, failing with the
/// last state seen after 30 s.
async fn agent_state_until(agent: &str, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = get_json(format!("{agent}/state")).await;
        if done(&state) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within 30 s; the agent's /state: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Ids of every task `/state` lists under `key` ("tasks",
/// "completed_tasks") of executors of the frameworks in `frameworks`.
fn agent_tasks(state: &serde_json::Value, frameworks: &str, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = state[frameworks]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| ["executors", "completed_executors"].map(|k| f[k].clone()))
        .flat_map(|list| list.as_array().cloned().unwrap_or_default())
        .flat_map(|e| e[key].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Regression: finished command tasks vanished from the agent's `/state`
/// (their updates were acknowledged before their executors exited), and a
/// torn-down framework stayed among the agent's `frameworks`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_lists_every_finished_task_and_moves_a_torn_down_framework() {
    // A container's cleanup that takes a while (as cgroups' does) lets the
    // framework's acknowledgements arrive before the executor is gone:
    // the order in which the tasks used to vanish.
    let slow = "org_fixture_isolator_slow";
    let mut manifest = corral_tests::library_entry(
        &corral_tests::module_library("corral_fixture_misbehaving"),
        &[slow],
    );
    manifest.push_str("  parameters = { cleanup_ms = \"500\" }\n");
    let cluster = Cluster::start_with(Options {
        extra_manifest: manifest,
        isolation: vec![slow.to_owned()],
        ..Options::default()
    })
    .await;
    let agent = format!("http://{}", cluster.agent);
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let ids: Vec<String> = (0..8).map(|i| format!("echo-{i}")).collect();
    let mut tasks: Vec<_> = ids
        .iter()
        .map(|id| task(id, &offer, "echo quick", 0.1, 32.0))
        .collect();
    tasks.push(task("sleeper", &offer, "sleep 600", 0.1, 32.0));
    s.launch(&offer, tasks).await;
    for id in &ids {
        loop {
            let update = s.update_for(id).await;
            if update["state"] == "TASK_FINISHED" {
                break;
            }
        }
    }
    agent_state_until(&agent, "all eight finished tasks listed", |state| {
        agent_tasks(state, "frameworks", "completed_tasks") == ids
    })
    .await;
    let state = get_json(format!("{agent}/state")).await;
    for e in state["frameworks"][0]["executors"].as_array().unwrap() {
        assert!(
            e["queued_tasks"].is_array(),
            "every executor has queued_tasks: {e}"
        );
    }

    let (status, body) = s.call(json!({"type": "TEARDOWN"})).await;
    assert_eq!(status, 202, "{body}");
    agent_state_until(
        &agent,
        "the torn-down framework among completed_frameworks",
        |state| {
            state["frameworks"] == json!([])
                && agent_tasks(state, "completed_frameworks", "completed_tasks").len() == 9
        },
    )
    .await;
    cluster.stop().await;
}

/// The endpoint spellings Mesos serves, and its query conventions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_endpoint_spellings_route() {
    let (cluster, s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);
    let agent = format!("http://{}", cluster.agent);

    // A trailing slash is ignored; `limit=-1` means no limit.
    assert_eq!(
        get_json(format!("{master}/master/frameworks/")).await,
        get_json(format!("{master}/master/frameworks")).await
    );
    let all = get_json(format!("{master}/master/tasks?limit=-1")).await;
    assert_eq!(all["tasks"].as_array().map(Vec::len), Some(2), "{all}");
    let one = get_json(format!("{master}/master/tasks/?limit=1")).await;
    assert_eq!(one["tasks"].as_array().map(Vec::len), Some(1), "{one}");

    let state = get_json(format!("{master}/master/state")).await;
    assert_eq!(state["frameworks"][0]["unregistered_time"], json!(0.0));
    // Mesos' uint32 (in_addr.s_addr read on a little-endian host).
    assert_eq!(state["hostname"], "127.0.0.1", "{state}");
    assert_eq!(state["leader_info"]["ip"], json!(16_777_343u32), "{state}");
    assert_eq!(state["leader_info"]["address"]["ip"], "127.0.0.1");
    let agent_state = get_json(format!("{agent}/state")).await;
    let name = &agent_state["frameworks"][0]["executors"][0]["name"];
    assert_eq!(
        name, "Command Executor (Task: sleeper) (Command: sh -c 'echo sleepin...')",
        "{agent_state}"
    );
    assert!(state["frameworks"][0]["capabilities"].is_array());

    let summary = get_json(format!("{master}/master/state-summary")).await;
    assert_eq!(summary["slaves"][0]["TASK_RUNNING"], json!(1), "{summary}");
    assert_eq!(summary["slaves"][0]["TASK_FINISHED"], json!(1), "{summary}");
    assert_eq!(
        summary["frameworks"][0]["TASK_RUNNING"],
        json!(1),
        "{summary}"
    );
    assert_eq!(
        summary["frameworks"][0]["slave_ids"],
        json!([summary["slaves"][0]["id"]])
    );
    let roles = get_json(format!("{master}/master/roles.json")).await;
    assert_eq!(roles["roles"][0]["name"], "*", "{roles}");
    assert_eq!(roles["roles"][0]["frameworks"], json!([s.framework_id]));

    let (status, body) = get(format!("{master}/master/maintenance/status")).await;
    assert_eq!(status, 501, "{body}");
    // The master's own files: none are attached (a clear 404), and the
    // path is required, as Mesos answers.
    let (status, body) = get(format!("{master}/files/read?path=/master/log&offset=0")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("/master/log"), "{body}");
    let (status, _) = get(format!("{master}/files/browse")).await;
    assert_eq!(status, 400);
    assert_eq!(get_json(format!("{master}/files/debug")).await, json!({}));

    for path in ["/slave(1)/state.json", "/slave(1)/state", "/state.json"] {
        let state = get_json(format!("{agent}{path}")).await;
        assert!(state["frameworks"].is_array(), "{path}: {state}");
    }
    for path in ["/slave(1)/health", "/health/"] {
        assert_eq!(get(format!("{agent}{path}")).await.0, 200, "{path}");
    }
    assert!(get_json(format!("{agent}/slave(1)/flags")).await["flags"].is_object());
    assert!(get_json(format!("{agent}/version")).await["version"].is_string());
    let containers = get_json(format!("{agent}/containers")).await;
    assert_eq!(containers.as_array().map(Vec::len), Some(1), "{containers}");
    assert!(containers[0]["container_id"].is_string(), "{containers}");
    let debug = get_json(format!("{agent}/files/debug")).await;
    assert!(!debug.as_object().unwrap().is_empty(), "{debug}");

    // POST /master/teardown with Mesos' form field.
    let response = crate::common::http_client()
        .post(format!("{master}/master/teardown"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("frameworkId={}", s.framework_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let frameworks = get_json(format!("{master}/master/frameworks")).await;
    assert_eq!(frameworks["frameworks"], json!([]), "{frameworks}");
    let response = crate::common::http_client()
        .post(format!("{master}/master/teardown"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("frameworkId=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    cluster.stop().await;
}
