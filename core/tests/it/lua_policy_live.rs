//! `corral local` with the Lua allocator selected by configuration: the
//! policy script is changed while the cluster runs, and the next offers
//! follow it without a restart.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{cli_local::Local, out_of_tree::get};
use corral_tests::{module_library, wait_or_kill, PROCESS_TIMEOUT};

/// Offers nothing: every framework is passed over.
const CLOSED: &str =
    "-- nobody gets anything\nfunction choose(agent, framework, offerable)\n  return false\nend\n";

#[test]
fn a_policy_changed_while_the_master_runs_decides_the_next_offers() {
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("policy.lua");
    std::fs::write(&script, CLOSED).unwrap();
    std::fs::write(
        scratch.path().join("modules.toml"),
        format!(
            "[[library]]\npath = {:?}\n  [[library.module]]\n  name = \"org_corral_allocator_lua\"\n  parameters = {{ script = \"policy.lua\" }}\n",
            module_library("corral_allocator_lua").display().to_string()
        ),
    )
    .unwrap();
    let config = scratch.path().join("corral.toml");
    std::fs::write(
        &config,
        "[modules]\nmanifest = \"modules.toml\"\nallocator = \"org_corral_allocator_lua\"\nisolation = []\nhooks = []\n",
    )
    .unwrap();
    let local = Local::start_with_config(&config);

    let mut task = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args([
            "execute",
            "--master",
            &local.master,
            "--command",
            "echo policy-changed",
        ])
        .env("CORRAL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The closed policy offers nothing: the task waits.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if let Some(status) = task.try_wait().unwrap() {
            panic!("the task ran under a policy that offers nothing ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let first_fit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../modules/allocator-lua/policies/firstfit.lua"),
    )
    .unwrap();
    std::fs::write(&script, first_fit).unwrap();
    let status = wait_or_kill(
        &mut task,
        PROCESS_TIMEOUT,
        "corral execute after the policy was changed",
    );
    let out = task.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.success() && stdout.contains("policy-changed"),
        "{status}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The module counts its reloads where operators look.
    let metrics: serde_json::Value =
        serde_json::from_str(&get(&local.master, "/metrics/snapshot")).unwrap();
    assert_eq!(
        metrics["modules/org_corral_allocator_lua/reloads"],
        serde_json::json!(1.0),
        "{metrics}"
    );
    assert!(local.stop().success());
}

fn simulate(args: &[&str]) -> std::process::Output {
    let lib = module_library("corral_allocator_lua");
    corral_tests::output_within(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["allocator", "simulate"])
            .args(args)
            .env("CORRAL_MODULE_PATH", lib.parent().unwrap())
            .env("CORRAL_LOG", "warn"),
        PROCESS_TIMEOUT,
        "corral allocator simulate",
    )
}

#[test]
fn simulate_runs_a_policy_on_a_synthetic_cluster_and_names_a_broken_one() {
    let policies =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/allocator-lua/policies");
    let out = simulate(&[
        "--script",
        policies.join("priority.lua").to_str().unwrap(),
        "--agents",
        "3",
        "--frameworks",
        "2",
        "--roles",
        "dev,prod",
        "--rounds",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" on agent-"))
        .collect();
    assert_eq!(offers.len(), 3, "{stdout}");
    assert!(
        offers
            .iter()
            .all(|l| l.trim_start().starts_with("fw-1 (prod)")),
        "prod first: {stdout}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("broken.lua");
    std::fs::write(&broken, "function key(f)\n  return f.id +\nend\n").unwrap();
    let out = simulate(&["--script", broken.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("broken.lua:3:"), "{stderr}");
}
