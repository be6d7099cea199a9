//! Isolator modules for real, from inside tasks launched through the
//! master: the pid namespace and the shared filesystem. These need root and
//! namespaces; without them each test prints `SKIP: <reason>` and passes.
//! Every test ends with `Cluster::stop`, which asserts that no process and
//! no mount of the cluster is left behind.

use crate::common;

use std::time::Duration;

use crate::common::{task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use corral_tests::{library_entry, module_library};
use serde_json::{json, Value};

const PID: &str = "org_corral_isolator_namespaces_pid";
const SHARED: &str = "org_corral_isolator_filesystem_shared";
const PRIVATE_TMP: &str =
    r#"{"type":"MESOS","volumes":[{"container_path":"/tmp","host_path":"tmp","mode":"RW"}]}"#;

/// Whether this machine can run containers with `namespaces` (`CLONE_NEW*`
/// flags): asks Corral's own launch helper to run `true` in them.
fn can_isolate(namespaces: u64) -> Result<(), String> {
    use std::io::Write;
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Err(format!("needs root (euid {euid})"));
    }
    let mut helper = std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("container-launch")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let instructions = json!({"namespaces": namespaces, "mounts": [], "pre_exec_commands": [],
        "program": "true", "argv": ["true"]});
    helper
        .stdin
        .take()
        .unwrap()
        .write_all(instructions.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let out = corral_tests::child_output_within(
        helper,
        corral_tests::PROCESS_TIMEOUT,
        "corral container-launch (probing namespaces)",
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot create namespaces {namespaces:#x}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

macro_rules! require {
    ($namespaces:expr) => {
        if let Err(why) = can_isolate($namespaces) {
            println!("SKIP: {why}");
            return;
        }
    };
}

const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;

/// A cluster whose agent uses the given isolators; `shared_defaults` is the
/// shared filesystem's `default_container_info`.
async fn cluster_with(isolation: &[&str], shared_defaults: &str) -> Cluster {
    let mut manifest = library_entry(&module_library("corral_isolator_namespaces"), &[PID]);
    manifest.push_str(&library_entry(
        &module_library("corral_isolator_filesystem_shared"),
        &[SHARED],
    ));
    manifest.push_str(&format!(
        "  parameters = {{ default_container_info = '{shared_defaults}' }}\n"
    ));
    Cluster::start_with(Options {
        extra_manifest: manifest,
        isolation: isolation.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    })
    .await
}

fn stdout_of(cluster: &Cluster, executor_id: &str) -> String {
    std::fs::read_to_string(cluster.sandbox_of(executor_id).join("stdout")).unwrap()
}

async fn finish(s: &mut Scheduler, task_id: &str) -> Value {
    assert_eq!(s.update_for(task_id).await["state"], "TASK_RUNNING");
    let done = s.update_for(task_id).await;
    assert_eq!(done["state"], "TASK_FINISHED", "{done}");
    done
}

/// Host pids of python processes whose command line contains `needle`
/// (the shell that started them has it too, and is not counted).
fn python_processes_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.starts_with("python"))
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_namespace_shows_only_the_container() {
    require!(CLONE_NEWPID | CLONE_NEWNS);
    let cluster = cluster_with(&[PID], "{}").await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let script =
        "echo init=$(cat /proc/1/comm); echo pids=$(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')";
    s.launch(&offer, vec![task("ps", &offer, script, 0.1, 32.0)])
        .await;
    finish(&mut s, "ps").await;
    let out = stdout_of(&cluster, "ps");
    assert!(
        out.contains("init=corral"),
        "pid 1 is Corral's container init:\n{out}"
    );
    let pids: Vec<u32> = out
        .lines()
        .find_map(|l| l.strip_prefix("pids="))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    // init, the executor, the task's shell and the pipeline: nothing else.
    assert!(pids.contains(&1) && pids.contains(&2), "{pids:?}");
    assert!(pids.len() <= 8, "only the container's processes: {pids:?}");
    assert!(
        !pids.contains(&std::process::id()),
        "the test process is not visible: {pids:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setsid_daemon_dies_with_its_killed_task() {
    require!(CLONE_NEWPID | CLONE_NEWNS);
    setsid_daemon_dies(&[PID]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pid_namespace_the_freezer_takes_setsid_daemons_down() {
    let probe = format!("corral-test-probe-{}", std::process::id());
    match corral::containerizer::Freezer::detect(&probe) {
        Ok(freezer) => std::fs::remove_dir(freezer.base()).unwrap(),
        Err(why) => {
            println!("SKIP: {why}");
            return;
        }
    }
    setsid_daemon_dies(&[]).await;
}

/// Host pids of processes whose command line is exactly `cmdline`
/// (NUL-separated arguments joined by spaces).
fn processes_running(cmdline: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
        })
        .collect()
}

/// The attack of issue 15 with posix isolation: a task writes its pid into
/// the freezer hierarchy's root (every path it can find for it), then
/// starts a daemon in a session of its own. Before containment the daemon
/// was in neither the container's session nor its freezer cgroup and
/// survived KILL; now the task's cgroup filesystems are read-only and
/// rooted at its own cgroups, so it stays in its freezer cgroup and dies
/// with the container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_leaves_its_freezer_cgroup_and_session_still_dies_on_kill() {
    let probe = format!("corral-test-probe-escape-{}", std::process::id());
    match corral::containerizer::Freezer::detect(&probe) {
        Ok(freezer) => std::fs::remove_dir(freezer.base()).unwrap(),
        Err(why) => {
            println!("SKIP: {why}");
            return;
        }
    }
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: needs root");
        return;
    }
    let mut manifest = library_entry(
        &module_library("corral_isolator_posix"),
        &[
            "org_corral_isolator_posix_cpu",
            "org_corral_isolator_posix_mem",
        ],
    );
    manifest.push('\n');
    let cluster = Cluster::start_with(Options {
        extra_manifest: manifest,
        isolation: vec![
            "org_corral_isolator_posix_cpu".to_owned(),
            "org_corral_isolator_posix_mem".to_owned(),
        ],
        ..Options::default()
    })
    .await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let seconds = format!(
        "{}.{}",
        5000 + std::process::id() % 1000,
        std::process::id()
    );
    let daemon = format!("sleep {seconds}");
    let script = format!(
        r#"
        for f in /sys/fs/cgroup/freezer $(grep ' - cgroup .*[ ,]freezer' /proc/self/mountinfo | awk '{{print $5}}'); do
          if echo $$ > "$f/cgroup.procs"; then echo "escaped=$f"; else echo "refused=$f"; fi
        done
        setsid {daemon} &
        echo started
        sleep 600
    "#
    );
    s.launch(&offer, vec![task("leaver", &offer, &script, 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("leaver").await["state"], "TASK_RUNNING");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = processes_running(&daemon).first() {
            break *pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never started: {}",
            stdout_of(&cluster, "leaver")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stdout = stdout_of(&cluster, "leaver");
    let stderr =
        std::fs::read_to_string(cluster.sandbox_of("leaver").join("stderr")).unwrap_or_default();
    assert!(
        !stdout.contains("escaped="),
        "the task left its freezer cgroup:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("refused=/sys/fs/cgroup/freezer"),
        "{stdout}\n{stderr}"
    );
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":freezer:") && l.contains(&cluster.cgroups_root)),
        "the daemon is still in its container's freezer cgroup: {cgroups}"
    );
    let (code, body) = s
        .call(json!({"type": "KILL", "kill": {"task_id": {"value": "leaver"}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(s.update_for("leaver").await["state"], "TASK_KILLED");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_running(&daemon);
        if left.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            for pid in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("the daemon survived its container: {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

/// A task starts a daemon that leaves its session; killing the task kills
/// the daemon too.
async fn setsid_daemon_dies(isolation: &[&str]) {
    let cluster = cluster_with(isolation, "{}").await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    // A daemon that leaves the task's session, as double-forking services do.
    // Its own for each call: both tests calling this run side by side in
    // one process, and must not take each other's daemon for theirs.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let marker = format!(
        "{}.{call}{}",
        4000 + std::process::id() % 1000,
        std::process::id()
    );
    let script =
        format!("python3 -c 'import os,time; os.setsid(); time.sleep({marker})' & sleep 600");
    s.launch(&offer, vec![task("daemon", &offer, &script, 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("daemon").await["state"], "TASK_RUNNING");
    let is_session_leader = |pid: &i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            // Fields after the name: state ppid pgrp session ...
            after_name.split_whitespace().nth(3) == Some(pid.to_string().as_str())
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !python_processes_with(&marker).iter().any(is_session_leader) {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never left the task's session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = s
        .call(json!({"type": "KILL", "kill": {"task_id": {"value": "daemon"}}}))
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(s.update_for("daemon").await["state"], "TASK_KILLED");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = python_processes_with(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the setsid daemon survived its container: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_tmp_lands_in_the_sandbox_and_is_not_shared() {
    require!(CLONE_NEWNS);
    // The work dir is a temporary directory under /tmp: the case Mesos 0.21
    // refused.
    let cluster = cluster_with(&[SHARED], PRIVATE_TMP).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let tag = std::process::id();
    let script = |name: &str| {
        format!(
            "echo from-{name} > /tmp/mark-{name}-{tag} && sleep 1 && echo seen=$(ls /tmp | tr '\\n' ' ') && cat $MESOS_SANDBOX/stdout > /dev/null"
        )
    };
    s.launch(
        &offer,
        vec![
            task("a", &offer, &script("a"), 0.1, 32.0),
            task("b", &offer, &script("b"), 0.1, 32.0),
        ],
    )
    .await;
    finish(&mut s, "a").await;
    finish(&mut s, "b").await;
    for (me, other) in [("a", "b"), ("b", "a")] {
        let out = stdout_of(&cluster, me);
        let seen = out.lines().find_map(|l| l.strip_prefix("seen=")).unwrap();
        assert!(
            seen.contains(&format!("mark-{me}-{tag}")),
            "{me} sees its own /tmp: {out}"
        );
        assert!(
            !seen.contains(&format!("mark-{other}-{tag}")),
            "{me} does not see {other}'s /tmp: {out}"
        );
        let landed = cluster.sandbox_of(me).join(format!("tmp/mark-{me}-{tag}"));
        assert_eq!(
            std::fs::read_to_string(&landed).unwrap().trim(),
            format!("from-{me}")
        );
        assert!(
            !std::path::Path::new(&format!("/tmp/mark-{me}-{tag}")).exists(),
            "the write did not reach the host's /tmp"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_installed_under_tmp_still_starts_executors_behind_a_private_tmp() {
    require!(CLONE_NEWNS);
    // The agent's own binary lives under /tmp (a checkout or an unpacked
    // release there), which the container's private /tmp hides.
    let install = tempfile::tempdir_in("/tmp").unwrap();
    let program = install.path().join("corral");
    std::fs::copy(env!("CARGO_BIN_EXE_corral"), &program).unwrap();
    let mut manifest = library_entry(
        &module_library("corral_isolator_filesystem_shared"),
        &[SHARED],
    );
    manifest.push_str(&format!(
        "  parameters = {{ default_container_info = '{PRIVATE_TMP}' }}\n"
    ));
    let cluster = Cluster::start_with(Options {
        extra_manifest: manifest,
        isolation: vec![SHARED.to_owned()],
        executor_program: program,
        ..Options::default()
    })
    .await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    s.launch(&offer, vec![task("hidden", &offer, "echo ran", 0.1, 32.0)])
        .await;
    finish(&mut s, "hidden").await;
    assert!(stdout_of(&cluster, "hidden").contains("ran"));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_volume_fails_the_task_with_the_rule_it_broke() {
    require!(CLONE_NEWNS);
    let cluster = cluster_with(&[SHARED], PRIVATE_TMP).await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let mut bad = task("bad-volume", &offer, "true", 0.1, 32.0);
    bad["container"] = json!({"type": "MESOS", "volumes": [
        {"container_path": "/no/such/corral/path", "host_path": "x", "mode": "RW"}]});
    s.launch(&offer, vec![bad]).await;
    let failed = s.update_for("bad-volume").await;
    assert_eq!(failed["state"], "TASK_FAILED", "{failed}");
    assert_eq!(failed["source"], "SOURCE_AGENT");
    assert_eq!(failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED");
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains(SHARED)
            && message.contains("container_path '/no/such/corral/path' does not exist on the host"),
        "{message}"
    );
    cluster.stop().await;
}

#[test]
fn bad_default_volumes_refuse_the_isolator_by_parameter() {
    let manifest = format!(
        "{}  parameters = {{ default_container_info = '{}' }}\n",
        library_entry(
            &module_library("corral_isolator_filesystem_shared"),
            &[SHARED]
        ),
        r#"{"volumes":[{"container_path":"tmp","host_path":"tmp"}]}"#
    );
    let registry = common::registry("", &manifest);
    let err = registry
        .create_isolator(SHARED, "agent.toml")
        .err()
        .expect("bad defaults are refused")
        .to_string();
    assert!(
        err.contains("default_container_info")
            && err.contains("container_path 'tmp' is not absolute"),
        "{err}"
    );
}
