//! The master's check of a decoded `TaskInfo` (`validate_task`, run on
//! every task of an ACCEPT). The input is a protobuf `TaskInfo`; what the
//! check accepts fits the offers, has a usable id, exactly one of command
//! and executor, and positive cpus and mem.

use std::collections::HashSet;

use corral::{
    domain::{
        convert::resource_to_proto,
        ids::{validate_id, IdKind},
        parse_resources, Resource, ResourceBag, ResourceValue,
    },
    master::{validate_task, ValidationContext},
    proto::v1,
    wire::codec::{decode, Encoding},
};

use prost::Message;

use super::messages::{dictionary, generated, seeds, task_info_seed};
use crate::{Check, Rng, Target, Verdict};

/// A task near the edge of valid: a seed changed a few times where the
/// rules look (ids, resources and their fit, command or executor, agent).
fn near_valid(rng: &mut Rng) -> Vec<u8> {
    let bases = task_seeds();
    let base = rng.pick(&bases);
    let mut task = decode::<v1::TaskInfo>(base, Encoding::Protobuf).expect("a seed decodes");
    for _ in 0..1 + rng.below(4) {
        tweak(rng, &mut task);
    }
    task.encode_to_vec()
}

fn tweak(rng: &mut Rng, task: &mut v1::TaskInfo) {
    const SCALARS: &[f64] = &[
        0.0,
        -0.0,
        1e-9,
        0.001,
        0.5,
        1.0,
        2.0,
        2.5,
        4.0,
        4.000_000_1,
        1024.0,
        1025.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    const BOUNDS: &[u64] = &[0, 1, 30_999, 31_000, 31_005, 32_000, 32_001, u64::MAX];
    let name = *rng.pick(&["cpus", "mem", "ports", "disks", "gpus", ""]);
    let role = *rng.pick(&["*", "*", "web", "other", ""]);
    let value = match rng.below(3) {
        0 => ResourceValue::Scalar(*rng.pick(SCALARS)),
        1 => ResourceValue::Ranges(
            (0..rng.below(3))
                .map(|_| (*rng.pick(BOUNDS), *rng.pick(BOUNDS)))
                .collect(),
        ),
        _ => ResourceValue::Set(
            (0..rng.below(3))
                .map(|_| rng.pick(&["a", "b", "c", ""]).to_string())
                .collect(),
        ),
    };
    let resource = resource_to_proto(&Resource {
        name: name.into(),
        role: role.into(),
        value,
    });
    match rng.below(9) {
        0 => {
            task.task_id.value = rng
                .pick(&[
                    "t", "dup", "old", "", ".", "..", "a/b", "a b", "a\0b", "é", "x\u{85}",
                ])
                .to_string()
        }
        1 => task.resources.push(resource),
        2 if !task.resources.is_empty() => {
            let i = rng.below(task.resources.len());
            task.resources.remove(i);
        }
        3 if !task.resources.is_empty() => {
            let i = rng.below(task.resources.len());
            task.resources[i] = resource;
        }
        4 => {
            let command = v1::CommandInfo {
                value: Some(rng.pick(&["true", "", "  ", "run"]).to_string()),
                shell: rng.pick(&[None, Some(true), Some(false)]).to_owned(),
                ..Default::default()
            };
            match rng.below(3) {
                0 => task.command = Some(command),
                1 => task.command = None,
                _ => {
                    task.executor = Some(v1::ExecutorInfo {
                        executor_id: v1::ExecutorId {
                            value: rng.pick(&["e", "", "..", "/x"]).to_string(),
                        },
                        command: rng.one_in(4).then_some(command).or(Some(v1::CommandInfo {
                            value: Some("run".into()),
                            ..Default::default()
                        })),
                        ..Default::default()
                    })
                }
            }
        }
        5 => task.executor = None,
        6 => task.agent_id.value = rng.pick(&["A", "B", ""]).to_string(),
        7 => {
            if let Some(executor) = &mut task.executor {
                executor.resources.push(resource);
            }
        }
        _ => {
            // A scalar nudged by one unit in the last place.
            if let Some(scalar) = task.resources.iter_mut().find_map(|r| r.scalar.as_mut()) {
                let bits = scalar.value.to_bits();
                scalar.value = f64::from_bits(if rng.one_in(2) {
                    bits + 1
                } else {
                    bits.saturating_sub(1)
                });
            }
        }
    }
}

fn task_seeds() -> Vec<Vec<u8>> {
    let task = task_info_seed();
    let command = task.replace("\"value\": \"t1\"", "\"value\": \"t9\"");
    let executor = r#"{"name": "x", "task_id": {"value": "t2"}, "agent_id": {"value": "A"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
                      {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}],
        "executor": {"executor_id": {"value": "e"}, "command": {"value": "run"},
          "resources": [{"name": "cpus", "role": "web", "type": "SCALAR", "scalar": {"value": 0.5}},
                        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31005}]}}]}}"#;
    let exact = r#"{"name": "all", "task_id": {"value": "all"}, "agent_id": {"value": "A"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}},
                      {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024}},
                      {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
                      {"name": "disks", "type": "SET", "set": {"item": ["a", "b"]}}],
        "command": {"value": "true"}}"#;
    seeds::<v1::TaskInfo>(&[&task, &command, executor, exact], Encoding::Protobuf)
}

fn setup() -> Check {
    let remaining = ResourceBag::new(
        &parse_resources("cpus:4;mem:1024;ports:[31000-32000];disks:{a,b};cpus(web):2")
            .expect("the offer's resources parse"),
    );
    let seen = HashSet::from(["dup".to_owned()]);
    Box::new(move |input| {
        let Ok(task) = decode::<v1::TaskInfo>(input, Encoding::Protobuf) else {
            return Verdict::Rejected;
        };
        let known = |id: &str| id == "old";
        let cx = ValidationContext {
            agent_id: "A",
            known_task: &known,
            seen: &seen,
            remaining: &remaining,
        };
        let Ok(total) = validate_task(&task, &cx) else {
            return Verdict::Rejected;
        };
        let id = &task.task_id.value;
        assert!(
            !id.is_empty() && !id.contains('/') && !id.chars().any(char::is_whitespace),
            "task id {id:?} accepted"
        );
        assert!(id != "dup" && id != "old", "a task id in use is accepted");
        for (kind, id) in [(IdKind::Task, id.as_str())].into_iter().chain(
            task.executor
                .as_ref()
                .map(|e| (IdKind::Executor, e.executor_id.value.as_str())),
        ) {
            assert_eq!(
                validate_id(kind, id),
                Ok(()),
                "an invalid {kind} is accepted"
            );
        }
        assert_eq!(task.agent_id.value, "A");
        assert!(
            task.command.is_some() != task.executor.is_some(),
            "neither or both of command and executor"
        );
        assert!(
            remaining.contains(&total),
            "accepted resources are not in the offers"
        );
        assert!(total.scalar("cpus") > 0.0 && total.scalar("mem") > 0.0);
        Verdict::Accepted
    })
}

pub fn target() -> Target {
    Target {
        name: "task-validation",
        about: "the master's check of a decoded TaskInfo in an ACCEPT (protobuf)",
        seeds: task_seeds,
        generate: Some(|rng| {
            if rng.one_in(4) {
                generated::<v1::TaskInfo>(rng, Encoding::Protobuf)
            } else {
                near_valid(rng)
            }
        }),
        dictionary: || dictionary::<v1::TaskInfo>(Encoding::Protobuf),
        setup,
        max_len: 8 * 1024,
    }
}
