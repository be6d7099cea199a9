//! Tasks run as their user (`switch_user`, Mesos' `--switch_user`): as
//! `CommandInfo.user`, else `FrameworkInfo.user`, with that user's ids and
//! groups and the sandbox handed to it; an unknown user fails the task
//! naming it. Needs root (to switch users) and the `nobody` user; prints
//! `SKIP: <reason>` without them.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use crate::common::{processes_under, task, Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::json;

fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("switching users needs root".into());
    }
    match nix::unistd::User::from_name("nobody") {
        Ok(Some(_)) => None,
        _ => Some("no 'nobody' user on this machine".into()),
    }
}

async fn switching_cluster() -> Cluster {
    Cluster::start_with(Options {
        tweak_agent: |c| c.switch_user = true,
        ..Options::default()
    })
    .await
}

/// The uid the kernel reports for `pid`.
fn uid_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_as_its_user_and_cannot_read_roots_files() {
    if let Some(why) = skip_reason() {
        println!("SKIP: {why}");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let secret_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(secret_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = secret_dir.path().join("root-only");
    std::fs::write(&secret, "the root password").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

    let cluster = switching_cluster().await;
    let mut s = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        json!({"user": "nobody", "name": "as-nobody"}),
    )
    .await;
    let offer = s.offer().await;
    let command = format!(
        "id -un; touch mine && echo WROTE; cat {} && echo READ || echo DENIED; sleep 600",
        secret.display()
    );
    s.launch(&offer, vec![task("as-nobody", &offer, &command, 0.1, 32.0)])
        .await;
    assert_eq!(s.update_for("as-nobody").await["state"], "TASK_RUNNING");
    let sandbox = cluster.sandbox_of("as-nobody");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stdout = loop {
        let out = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
        if out.contains("DENIED") || out.contains("READ\n") {
            break out;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task wrote: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(stdout.starts_with("nobody\n"), "{stdout}");
    assert!(
        stdout.contains("WROTE"),
        "the sandbox is the task's: {stdout}"
    );
    assert!(
        stdout.contains("DENIED"),
        "a root-only file was read: {stdout}"
    );
    // The kernel agrees: the task's processes run as nobody.
    let sleepers: Vec<i32> = processes_under(&sandbox)
        .into_iter()
        .filter(|(_, cmd)| cmd.starts_with("sleep"))
        .map(|(pid, _)| pid)
        .collect();
    assert!(!sleepers.is_empty(), "no task process found");
    for pid in sleepers {
        assert_eq!(uid_of(pid), Some(nobody.uid.as_raw()), "pid {pid}");
    }
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&sandbox).unwrap().uid(),
        nobody.uid.as_raw(),
        "the sandbox belongs to the task's user"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_user_wins_and_an_unknown_user_fails_the_task_naming_it() {
    if let Some(why) = skip_reason() {
        println!("SKIP: {why}");
        return;
    }
    let cluster = switching_cluster().await;
    let mut s = Scheduler::subscribe_with(
        cluster.master,
        Encoding::Json,
        json!({"user": "root", "name": "users"}),
    )
    .await;
    let offer = s.offer().await;
    let mut as_nobody = task("command-user", &offer, "id -un", 0.1, 16.0);
    as_nobody["command"]["user"] = json!("nobody");
    let mut unknown = task("unknown-user", &offer, "id -un", 0.1, 16.0);
    unknown["command"]["user"] = json!("no-such-user-corral");
    s.launch(&offer, vec![as_nobody, unknown]).await;

    let failed = loop {
        let update = s.update_for("unknown-user").await;
        if update["state"] != "TASK_STARTING" && update["state"] != "TASK_STAGING" {
            break update;
        }
    };
    assert_eq!(failed["state"], "TASK_FAILED", "{failed}");
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{failed}"
    );
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-user-corral")),
        "{failed}"
    );
    loop {
        let update = s.update_for("command-user").await;
        if update["state"] == "TASK_FINISHED" {
            break;
        }
        assert_eq!(update["state"], "TASK_RUNNING", "{update}");
    }
    let stdout =
        std::fs::read_to_string(cluster.sandbox_of("command-user").join("stdout")).unwrap();
    assert!(stdout.starts_with("nobody"), "{stdout}");
    cluster.stop().await;
}
