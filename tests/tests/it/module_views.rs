//! module-api's typed views decode what the host really sends: a TaskInfo
//! and an ExecutorInfo as a framework writes them (v1 JSON), encoded by
//! core's own protobuf types, read back through `guest::views`.

use corral::{
    proto::v1,
    wire::codec::{decode, Encoding},
};
use corral_module_api::{
    guest::views::{CommandDetails, ExecutorDetails, TaskDetails, VolumeDetails},
    types::{Resource, ResourceValue, ValueRange},
};
use prost::Message;
use serde_json::json;

fn encoded<M: Message + Default + prost_reflect::ReflectMessage>(
    value: serde_json::Value,
) -> Vec<u8> {
    decode::<M>(value.to_string().as_bytes(), Encoding::Json)
        .expect("the JSON is a valid message")
        .encode_to_vec()
}

#[test]
fn a_command_tasks_info_decodes_field_by_field() {
    let bytes = encoded::<v1::TaskInfo>(json!({
        "name": "web",
        "task_id": {"value": "t-1"},
        "agent_id": {"value": "A-1"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}, "role": "web"},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31002}]}},
            {"name": "disks", "type": "SET", "set": {"item": ["a", "b"]}}
        ],
        "command": {
            "value": "./serve --port $PORT",
            "shell": false,
            "arguments": ["serve", "--verbose"],
            "user": "nobody",
            "environment": {"variables": [{"name": "PORT", "value": "31000"}]},
            "uris": [{"value": "http://example.org/app.tgz"}]
        },
        "container": {
            "type": "MESOS",
            "hostname": "web-1",
            "volumes": [{"container_path": "/data", "host_path": "data", "mode": "RO"}]
        },
        "labels": {"labels": [{"key": "team", "value": "infra"}, {"key": "canary"}]}
    }));
    let task = TaskDetails::decode(&bytes).unwrap();
    assert_eq!(
        (
            task.task_id.as_str(),
            task.name.as_str(),
            task.agent_id.as_str()
        ),
        ("t-1", "web", "A-1")
    );
    assert_eq!(
        task.resources,
        [
            Resource::scalar("cpus", 0.5),
            Resource {
                role: "web".into(),
                ..Resource::scalar("mem", 64.0)
            },
            Resource {
                name: "ports".into(),
                role: "*".into(),
                value: ResourceValue::Ranges(
                    vec![ValueRange {
                        begin: 31000,
                        end: 31002
                    }]
                    .into()
                ),
            },
            Resource {
                name: "disks".into(),
                role: "*".into(),
                value: ResourceValue::Set(vec!["a".into(), "b".into()].into()),
            },
        ]
    );
    assert_eq!(
        task.command,
        Some(CommandDetails {
            value: Some("./serve --port $PORT".into()),
            arguments: vec!["serve".into(), "--verbose".into()],
            shell: false,
            user: Some("nobody".into()),
            environment: vec![("PORT".into(), "31000".into())],
            uris: vec!["http://example.org/app.tgz".into()],
        })
    );
    let container = task.container.unwrap();
    assert_eq!(
        (container.kind, container.hostname.as_deref()),
        (2, Some("web-1"))
    );
    assert_eq!(
        container.volumes,
        [VolumeDetails {
            container_path: "/data".into(),
            host_path: Some("data".into()),
            read_only: true,
        }]
    );
    assert_eq!(
        task.labels,
        [
            ("team".into(), "infra".into()),
            ("canary".into(), String::new())
        ]
    );
    assert_eq!(task.executor, None);
}

#[test]
fn an_executor_info_decodes_and_shell_defaults_to_true() {
    let bytes = encoded::<v1::ExecutorInfo>(json!({
        "executor_id": {"value": "e-1"},
        "framework_id": {"value": "F-1"},
        "name": "runner",
        "command": {"value": "exec ./runner"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
        "labels": {"labels": [{"key": "k", "value": "v"}]}
    }));
    let executor = ExecutorDetails::decode(&bytes).unwrap();
    assert_eq!(executor.executor_id, "e-1");
    assert_eq!(executor.framework_id.as_deref(), Some("F-1"));
    assert_eq!(executor.name.as_deref(), Some("runner"));
    let command = executor.command.unwrap();
    assert_eq!(command.value.as_deref(), Some("exec ./runner"));
    assert!(command.shell, "Mesos' CommandInfo.shell defaults to true");
    assert_eq!(executor.resources, [Resource::scalar("cpus", 0.1)]);
    assert_eq!(executor.labels, [("k".into(), "v".into())]);
}

#[test]
fn bytes_that_are_not_the_message_name_it() {
    let err = TaskDetails::decode(&[0x0a, 0xff]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot decode the mesos.v1.TaskInfo bytes: "),
        "{err}"
    );
}
