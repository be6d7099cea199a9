//! Every fuzz target, briefly: its seeds, then mutated and generated
//! inputs, up to `CORRAL_FUZZ_INPUTS` inputs (default 3,000) or
//! `CORRAL_FUZZ_SECONDS` seconds (default 5) each, from the target's fixed
//! seed (`CORRAL_FUZZ_SEED` to change it). `corral-fuzz run` runs them long.

use std::time::Duration;

use corral_fuzz::{default_seed, run, targets, Budget};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fuzz(name: &str) {
    let target = targets::find(name).expect("a target of that name");
    let budget = Budget {
        inputs: env_number("CORRAL_FUZZ_INPUTS", 3_000),
        time: Duration::from_secs(env_number("CORRAL_FUZZ_SECONDS", 5)),
    };
    let seed = env_number("CORRAL_FUZZ_SEED", default_seed(&target));
    match run(&target, budget, seed) {
        Ok(report) => eprintln!(
            "{name}: {} inputs ({} accepted) in {:.2?}",
            report.inputs, report.accepted, report.elapsed
        ),
        Err(failure) => panic!("{failure}"),
    }
}

macro_rules! fuzz_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { fuzz($name) })*

        #[test]
        fn every_target_has_a_test() {
            let tested = [$($name),*];
            for t in targets::all() {
                assert!(tested.contains(&t.name), "no test runs target '{}'", t.name);
            }
        }
    };
}

fuzz_tests! {
    scheduler_call_json => "scheduler-call-json",
    scheduler_call_protobuf => "scheduler-call-protobuf",
    scheduler_event_json => "scheduler-event-json",
    executor_call_json => "executor-call-json",
    executor_call_protobuf => "executor-call-protobuf",
    executor_event_protobuf => "executor-event-protobuf",
    agent_subscribe_protobuf => "agent-subscribe-protobuf",
    agent_call_protobuf => "agent-call-protobuf",
    master_event_protobuf => "master-event-protobuf",
    recordio => "recordio",
    files_data => "files-data",
    resource_text => "resource-text",
    task_validation => "task-validation",
    sandbox_path => "sandbox-path",
    id_validation => "id-validation",
}
