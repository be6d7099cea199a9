//! The cgroups isolators for real, from tasks launched through the master:
//! limits written from the task's resources, usage at the agent's
//! `/monitor/statistics`, and a task past its memory limit failing with
//! `REASON_CONTAINER_LIMITATION_MEMORY`. They need root and cgroups; without
//! them each test prints `SKIP: <reason>` and passes. Each test uses a cgroup
//! root of its own and asserts that no cgroup is left under it, then
//! removes the root.

use crate::common;

use std::path::PathBuf;

use crate::common::{task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use corral_tests::{library_entry, module_library};
use serde_json::json;

const CPU: &str = "org_corral_isolator_cgroups_cpu";
const MEM: &str = "org_corral_isolator_cgroups_mem";

/// A cgroup root name no other test uses.
fn unique_root(test: &str) -> String {
    format!("corral-test-{}-{test}", std::process::id())
}

fn manifest(root: &str) -> String {
    let mut m = library_entry(&module_library("corral_isolator_cgroups"), &[CPU]);
    m.push_str(&format!(
        "  parameters = {{ root = '{root}', cfs_quota = true }}\n  [[library.module]]\n  name = '{MEM}'\n  parameters = {{ root = '{root}' }}\n"
    ));
    m
}

/// Whether the cgroup isolators can run here: their constructors decide.
fn can_use_cgroups(root: &str) -> Result<(), String> {
    let registry = common::registry("", &manifest(root));
    for name in [CPU, MEM] {
        registry
            .create_isolator(name, "probe")
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Every cgroup mount point (v1 and v2) with `root` under it.
fn root_dirs(root: &str) -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let mount_point = left.split_whitespace().nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| PathBuf::from(mount_point).join(root))
        })
        .filter(|dir| dir.is_dir())
        .collect()
}

/// Asserts that no container cgroup is left under `root`, then removes it.
fn assert_no_cgroups_left(root: &str) {
    for dir in root_dirs(root) {
        let children: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        assert!(children.is_empty(), "cgroups left behind: {children:?}");
        std::fs::remove_dir(&dir).unwrap();
    }
}

macro_rules! require_cgroups {
    ($root:expr) => {
        if let Err(why) = can_use_cgroups($root) {
            println!("SKIP: {why}");
            assert_no_cgroups_left($root);
            return;
        }
    };
}

async fn cluster(root: &str) -> Cluster {
    Cluster::start_with(Options {
        extra_manifest: manifest(root),
        isolation: vec![CPU.to_owned(), MEM.to_owned()],
        ..Options::default()
    })
    .await
}

/// The only container cgroup under `root` in the v1 hierarchy `controller`.
fn container_cgroup(controller: &str, root: &str) -> Option<PathBuf> {
    let dir = PathBuf::from("/sys/fs/cgroup").join(controller).join(root);
    let mut list: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    (list.len() == 1).then(|| list.remove(0))
}

fn read_number(path: PathBuf) -> i64 {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_tasks_resources_and_usage_is_served() {
    let root = unique_root("limits");
    require_cgroups!(&root);
    let cluster = cluster(&root).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("calm", &offer, "sleep 600", 0.5, 64.0)])
        .await;
    assert_eq!(s.update_for("calm").await["state"], "TASK_RUNNING");

    // This machine has cgroup v1; on a v2-only host these files differ.
    if let (Some(cpu), Some(memory)) = (
        container_cgroup("cpu", &root),
        container_cgroup("memory", &root),
    ) {
        assert_eq!(read_number(cpu.join("cpu.shares")), 512);
        assert_eq!(read_number(cpu.join("cpu.cfs_period_us")), 100_000);
        assert_eq!(read_number(cpu.join("cpu.cfs_quota_us")), 50_000);
        assert_eq!(read_number(memory.join("memory.limit_in_bytes")), 64 << 20);
        let procs = std::fs::read_to_string(memory.join("cgroup.procs")).unwrap();
        assert!(
            !procs.trim().is_empty(),
            "the container's processes are in its cgroup"
        );
    } else {
        println!("note: no cgroup v1 cpu/memory hierarchy; limits checked through usage only");
    }

    let stats = common::get_json(format!("http://{}/monitor/statistics", cluster.agent)).await;
    let list = stats.as_array().unwrap();
    assert_eq!(list.len(), 1, "{stats}");
    let entry = &list[0];
    assert_eq!(entry["executor_id"], "calm");
    assert_eq!(entry["source"], "calm");
    assert_eq!(entry["framework_id"], s.framework_id.as_str());
    let figures = &entry["statistics"];
    assert_eq!(figures["cpus_limit"], json!(0.5), "{figures}");
    assert_eq!(
        figures["mem_limit_bytes"],
        json!(64.0 * 1048576.0),
        "{figures}"
    );
    assert!(
        figures["mem_rss_bytes"].as_f64().unwrap() > 0.0,
        "{figures}"
    );
    assert!(
        figures["cpus_user_time_secs"].as_f64().is_some(),
        "{figures}"
    );
    assert!(figures["timestamp"].as_f64().unwrap() > 1.0e9);

    let (code, body) = s
        .call(json!({"type": "KILL", "kill": {"task_id": {"value": "calm"}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(s.update_for("calm").await["state"], "TASK_KILLED");
    cluster.stop().await;
    assert_no_cgroups_left(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_memory_limit_fails_with_the_memory_reason() {
    let root = unique_root("oom");
    require_cgroups!(&root);
    let cluster = cluster(&root).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    // Touches 256 MB in a container limited to 64 MB.
    let hog = r#"python3 -c 'b = b"x" * (256 << 20); import time; time.sleep(60)'"#;
    s.launch(&offer, vec![task("hog", &offer, hog, 0.1, 64.0)])
        .await;
    assert_eq!(s.update_for("hog").await["state"], "TASK_RUNNING");
    let failed = s.update_for("hog").await;
    assert_eq!(failed["state"], "TASK_FAILED", "{failed}");
    assert_eq!(failed["source"], "SOURCE_AGENT", "{failed}");
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LIMITATION_MEMORY",
        "{failed}"
    );
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("Memory limit exceeded: Requested: 64MB"),
        "{message}"
    );
    cluster.stop().await;
    assert_no_cgroups_left(&root);
}

/// The attack of issue 15: a task writes its pid into the root memory
/// cgroup (every path it can find for it: the usual one and each memory
/// mount in its own mountinfo), then uses 256 MB under a 64 MB limit.
/// Before containment the write succeeded and the task ended
/// TASK_FINISHED; now the cgroup filesystem the task sees is read-only and
/// rooted at its own cgroups, the write fails and the limit holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_cannot_move_itself_out_of_its_memory_cgroup() {
    let root = unique_root("escape");
    require_cgroups!(&root);
    if !std::path::Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
        println!("SKIP: no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
        assert_no_cgroups_left(&root);
        return;
    }
    let cluster = cluster(&root).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let script = r#"
        for m in /sys/fs/cgroup/memory $(grep ' - cgroup .*[ ,]memory' /proc/self/mountinfo | awk '{print $5}'); do
          if echo $$ > "$m/cgroup.procs"; then echo "escaped=$m"; else echo "refused=$m"; fi
        done
        echo "cgroup=$(grep memory /proc/self/cgroup)"
        exec python3 -c 'import time; b = b"x" * (256 << 20); time.sleep(2)'
    "#;
    s.launch(&offer, vec![task("escape", &offer, script, 0.1, 64.0)])
        .await;
    assert_eq!(s.update_for("escape").await["state"], "TASK_RUNNING");
    let end = s.update_for("escape").await;
    let stdout =
        std::fs::read_to_string(cluster.sandbox_of("escape").join("stdout")).unwrap_or_default();
    let stderr =
        std::fs::read_to_string(cluster.sandbox_of("escape").join("stderr")).unwrap_or_default();
    assert!(
        !stdout.contains("escaped="),
        "the task moved itself out of its cgroup:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("refused=/sys/fs/cgroup/memory"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("Read-only file system"),
        "the write is refused as read-only:\n{stderr}"
    );
    // Its own cgroup is the root of its cgroup namespace.
    assert!(
        stdout.contains("cgroup=") && stdout.contains(":memory:/\n"),
        "{stdout}"
    );
    assert_eq!(end["state"], "TASK_FAILED", "{end}\n{stdout}\n{stderr}");
    assert_eq!(end["reason"], "REASON_CONTAINER_LIMITATION_MEMORY", "{end}");
    cluster.stop().await;
    assert_no_cgroups_left(&root);
}

/// With every root isolator (`namespaces/pid`, `filesystem/shared` with a
/// private `/tmp`, `cgroups/cpu`, `cgroups/mem`), the cgroup view holds
/// beside the pid namespace and the volumes: the task sees its own memory
/// cgroup as the hierarchy's root (its own limit at the usual path), cannot
/// write to it, and a cgroup filesystem it mounts itself is rooted there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cgroup_view_holds_with_a_pid_namespace_and_a_private_tmp() {
    let root = unique_root("together");
    require_cgroups!(&root);
    if !std::path::Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
        println!("SKIP: no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
        assert_no_cgroups_left(&root);
        return;
    }
    const PID: &str = "org_corral_isolator_namespaces_pid";
    const SHARED: &str = "org_corral_isolator_filesystem_shared";
    let mut extra = manifest(&root);
    extra.push_str(&library_entry(
        &module_library("corral_isolator_namespaces"),
        &[PID],
    ));
    extra.push_str(&library_entry(
        &module_library("corral_isolator_filesystem_shared"),
        &[SHARED],
    ));
    extra.push_str(
        r#"  parameters = { default_container_info = '{"type":"MESOS","volumes":[{"container_path":"/tmp","host_path":"tmp","mode":"RW"}]}' }
"#,
    );
    let cluster = Cluster::start_with(Options {
        extra_manifest: extra,
        isolation: [PID, SHARED, CPU, MEM].map(str::to_owned).to_vec(),
        ..Options::default()
    })
    .await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let script = r#"
        echo "init=$(cat /proc/1/comm)"
        echo mine > /tmp/mark && echo "tmp=$(cat /tmp/mark)"
        echo "limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
        echo "cgroup=$(grep :memory: /proc/self/cgroup)"
        if echo $$ > /sys/fs/cgroup/memory/cgroup.procs; then echo escaped; fi
        mkdir -p "$MESOS_SANDBOX/own" && mount -t cgroup -o memory cgroup "$MESOS_SANDBOX/own" &&
          echo "own=$(cat "$MESOS_SANDBOX/own/memory.limit_in_bytes")"
        true
    "#;
    s.launch(&offer, vec![task("together", &offer, script, 0.1, 64.0)])
        .await;
    assert_eq!(s.update_for("together").await["state"], "TASK_RUNNING");
    let end = s.update_for("together").await;
    let sandbox = cluster.sandbox_of("together");
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default();
    assert_eq!(end["state"], "TASK_FINISHED", "{end}\n{stdout}\n{stderr}");
    let limit = (64u64 << 20).to_string();
    for line in [
        "init=corral".to_owned(),
        "tmp=mine".to_owned(),
        format!("limit={limit}"),
        "cgroup=".to_owned(),
        format!("own={limit}"),
    ] {
        assert!(stdout.contains(&line), "{line} in:\n{stdout}\n{stderr}");
    }
    assert!(stdout.contains(":memory:/\n"), "{stdout}");
    assert!(!stdout.contains("escaped"), "{stdout}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(
        sandbox.join("tmp/mark").exists(),
        "the private /tmp is in the sandbox"
    );
    cluster.stop().await;
    assert_no_cgroups_left(&root);
}
