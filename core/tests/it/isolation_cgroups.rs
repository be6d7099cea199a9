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
