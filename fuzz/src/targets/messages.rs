//! The message decoders of the v1 APIs and of the agent protocol, through
//! `corral::wire::codec::decode` exactly as the endpoints and clients call
//! it. An accepted message must come back unchanged from both encodings
//! (encode then decode), and what Corral encodes must decode.

use std::{collections::BTreeSet, sync::LazyLock};

use corral::wire::json_out::MesosJson;
use corral::{
    proto::{agent as ap, v1, DESCRIPTOR_POOL},
    wire::codec::{decode, encode, Encoding},
};
use prost::Message;
use prost_reflect::{Kind, MessageDescriptor, ReflectMessage};

use crate::{generate, show, Check, Rng, Verdict};

/// What a message target needs of its type.
pub trait Fuzzed:
    Message + ReflectMessage + MesosJson + Default + PartialEq + std::fmt::Debug + 'static
{
}
impl<M: Message + ReflectMessage + MesosJson + Default + PartialEq + std::fmt::Debug + 'static>
    Fuzzed for M
{
}

pub fn setup<M: Fuzzed>(encoding: Encoding) -> Check {
    LazyLock::force(&DESCRIPTOR_POOL);
    Box::new(move |input| check::<M>(input, encoding))
}

/// Decodes `input`; what decodes must survive both encodings.
pub fn check<M: Fuzzed>(input: &[u8], encoding: Encoding) -> Verdict {
    let Ok(message) = decode::<M>(input, encoding) else {
        return Verdict::Rejected;
    };
    for other in [Encoding::Json, Encoding::Protobuf] {
        let bytes = encode(&message, other);
        let back: M = decode(&bytes, other).unwrap_or_else(|e| {
            panic!(
                "the {other:?} encoding of an accepted message does not decode ({e}): {}",
                show(&bytes)
            )
        });
        #[allow(clippy::eq_op)] // a message unequal to itself holds a NaN
        let has_nan = message != message;
        if has_nan {
            // Equal only up to NaN payloads: the next trip must be exact.
            let again = encode(&back, other);
            let twice: M = decode(&again, other).expect("a re-encoded message decodes");
            assert_eq!(
                encode(&twice, other),
                again,
                "{other:?} round trip is unstable"
            );
        } else {
            assert!(
                back == message,
                "the {other:?} round trip changed the message:\n before: {message:?}\n after:  {back:?}\n encoded: {}",
                show(&bytes)
            );
        }
    }
    Verdict::Accepted
}

/// A message of type `M` generated from its descriptor, in `encoding`.
pub fn generated<M: Fuzzed>(rng: &mut Rng, encoding: Encoding) -> Vec<u8> {
    let dynamic = generate::message(rng, &M::default().descriptor());
    match encoding {
        Encoding::Protobuf => dynamic.encode_to_vec(),
        Encoding::Json => match dynamic.transcode_to::<M>() {
            Ok(typed) => encode(&typed, Encoding::Json),
            Err(_) => dynamic.encode_to_vec(),
        },
    }
}

/// Field and enum value names reachable from `M` (quoted, for JSON) or
/// its fields' tags (for protobuf), and tokens at the edges of each.
pub fn dictionary<M: Fuzzed>(encoding: Encoding) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    collect(&M::default().descriptor(), encoding, &mut seen, &mut tokens);
    let edges: &[&[u8]] = match encoding {
        Encoding::Json => &[
            b"{}",
            b"[]",
            b"null",
            b"true",
            b"false",
            b"\"NaN\"",
            b"\"Infinity\"",
            b"\"-Infinity\"",
            b"1e999",
            b"-1",
            b"0",
            b"-0",
            b"1.5",
            b"18446744073709551615",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"\"12\"",
            b"\"\"",
            b"\"\\u0000\"",
            b"\"\\ud800\"",
            b"\"/////w==\"",
            b"\"AA\"",
            b"[[[[[[[[",
            b"{\"value\":\"x\"}",
        ],
        Encoding::Protobuf => &[
            &[
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0x00],
            &[0x7f],
            &[0xc0, 0xc4, 0x07],
        ],
    };
    tokens.extend(edges.iter().map(|t| t.to_vec()));
    tokens.into_iter().collect()
}

fn collect(
    message: &MessageDescriptor,
    encoding: Encoding,
    seen: &mut BTreeSet<String>,
    tokens: &mut BTreeSet<Vec<u8>>,
) {
    if !seen.insert(message.full_name().to_owned()) {
        return;
    }
    for field in message.fields() {
        match encoding {
            Encoding::Json => {
                tokens.insert(format!("\"{}\":", field.name()).into_bytes());
            }
            Encoding::Protobuf => {
                let wire = match field.kind() {
                    Kind::Message(_) | Kind::String | Kind::Bytes => 2,
                    Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
                    Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
                    _ => 0,
                };
                let mut tag = Vec::new();
                prost::encoding::encode_varint(u64::from(field.number() << 3 | wire), &mut tag);
                tokens.insert(tag);
            }
        }
        match field.kind() {
            Kind::Message(m) => collect(&m, encoding, seen, tokens),
            Kind::Enum(e) if encoding == Encoding::Json => {
                for value in e.values() {
                    tokens.insert(format!("\"{}\"", value.name()).into_bytes());
                }
            }
            _ => {}
        }
    }
}

/// `json` seeds as `M` in `encoding`.
pub fn seeds<M: Fuzzed>(json: &[&str], encoding: Encoding) -> Vec<Vec<u8>> {
    json.iter()
        .map(|text| match encoding {
            Encoding::Json => text.as_bytes().to_vec(),
            Encoding::Protobuf => {
                let message: M = decode(text.as_bytes(), Encoding::Json)
                    .unwrap_or_else(|e| panic!("seed {text} does not decode: {e}"));
                encode(&message, Encoding::Protobuf)
            }
        })
        .collect()
}

const RESOURCES: &str = r#"[
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
    {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31001}]}},
    {"name": "disks", "type": "SET", "role": "web", "set": {"item": ["a", "b"]}}]"#;

fn task_info() -> String {
    format!(
        r#"{{"name": "t1", "task_id": {{"value": "t1"}}, "agent_id": {{"value": "A"}},
        "resources": {RESOURCES},
        "command": {{"value": "echo hi", "shell": true,
            "environment": {{"variables": [{{"name": "K", "value": "V"}}]}},
            "uris": [{{"value": "http://x/y.tgz", "extract": true}}]}},
        "labels": {{"labels": [{{"key": "k", "value": "v"}}]}},
        "kill_policy": {{"grace_period": {{"nanoseconds": 3000000000}}}}}}"#
    )
}

fn executor_info() -> String {
    format!(
        r#"{{"executor_id": {{"value": "e1"}}, "framework_id": {{"value": "f1"}},
        "command": {{"value": "/bin/exec", "shell": false, "arguments": ["exec", "-v"]}},
        "resources": {RESOURCES},
        "container": {{"type": "MESOS", "volumes": [{{"container_path": "/tmp", "host_path": "tmp", "mode": "RW"}}]}}}}"#
    )
}

const FRAMEWORK: &str = r#"{"user": "root", "name": "fw", "id": {"value": "f1"},
    "failover_timeout": 60, "checkpoint": true, "roles": ["web", "*"],
    "capabilities": [{"type": "MULTI_ROLE"}], "hostname": "h"}"#;

const AGENT: &str = r#"{"hostname": "h", "id": {"value": "A"}, "port": 5051,
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}}],
    "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]}"#;

fn status() -> String {
    r#"{"task_id": {"value": "t1"}, "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR",
        "reason": "REASON_COMMAND_EXECUTOR_FAILED", "message": "m", "uuid": "AAECAwQFBgcICQoLDA0ODw==",
        "agent_id": {"value": "A"}, "executor_id": {"value": "e1"}, "timestamp": 1700000000.5,
        "healthy": true, "data": "aGk="}"#
        .to_owned()
}

fn scheduler_call_seeds() -> Vec<String> {
    let task = task_info();
    let executor = executor_info();
    vec![
        format!(r#"{{"type": "SUBSCRIBE", "subscribe": {{"framework_info": {FRAMEWORK}, "suppressed_roles": ["x"]}}}}"#),
        format!(
            r#"{{"framework_id": {{"value": "f1"}}, "type": "ACCEPT", "accept": {{
            "offer_ids": [{{"value": "o1"}}, {{"value": "o2"}}],
            "operations": [{{"type": "LAUNCH", "launch": {{"task_infos": [{task},
                {{"name": "t2", "task_id": {{"value": "t2"}}, "agent_id": {{"value": "A"}},
                  "resources": {RESOURCES}, "executor": {executor}}}]}}}}],
            "filters": {{"refuse_seconds": 5}}}}}}"#
        ),
        r#"{"framework_id": {"value": "f1"}, "type": "DECLINE", "decline": {"offer_ids": [{"value": "o1"}], "filters": {"refuse_seconds": "60"}}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "REVIVE", "revive": {"roles": ["web"]}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "SUPPRESS", "suppress": {"roles": []}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "KILL", "kill": {"task_id": {"value": "t1"}, "agent_id": {"value": "A"}, "kill_policy": {"grace_period": {"nanoseconds": 1}}}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "SHUTDOWN", "shutdown": {"executor_id": {"value": "e1"}, "agent_id": {"value": "A"}}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "ACKNOWLEDGE", "acknowledge": {"agent_id": {"value": "A"}, "task_id": {"value": "t1"}, "uuid": "AAECAwQFBgcICQoLDA0ODw=="}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "A"}}, {"task_id": {"value": "t2"}}]}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "MESSAGE", "message": {"agent_id": {"value": "A"}, "executor_id": {"value": "e1"}, "data": "aGVsbG8="}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "REQUEST", "request": {"requests": [{"agent_id": {"value": "A"}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}]}}"#.into(),
        r#"{"framework_id": {"value": "f1"}, "type": "TEARDOWN"}"#.into(),
    ]
}

fn scheduler_event_seeds() -> Vec<String> {
    let status = status();
    vec![
        r#"{"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "f1"}, "heartbeat_interval_seconds": 15, "master_info": {"id": "m", "ip": 2130706433, "port": 5050, "hostname": "h", "version": "1.0.0"}}}"#.into(),
        format!(r#"{{"type": "OFFERS", "offers": {{"offers": [{{"id": {{"value": "o1"}}, "framework_id": {{"value": "f1"}}, "agent_id": {{"value": "A"}}, "hostname": "h", "resources": {RESOURCES}, "attributes": [{{"name": "rack", "type": "TEXT", "text": {{"value": "r1"}}}}]}}]}}}}"#),
        r#"{"type": "RESCIND", "rescind": {"offer_id": {"value": "o1"}}}"#.into(),
        format!(r#"{{"type": "UPDATE", "update": {{"status": {status}}}}}"#),
        r#"{"type": "MESSAGE", "message": {"agent_id": {"value": "A"}, "executor_id": {"value": "e1"}, "data": "aGk="}}"#.into(),
        r#"{"type": "FAILURE", "failure": {"agent_id": {"value": "A"}, "executor_id": {"value": "e1"}, "status": 9}}"#.into(),
        r#"{"type": "ERROR", "error": {"message": "framework removed"}}"#.into(),
        r#"{"type": "HEARTBEAT"}"#.into(),
    ]
}

fn executor_call_seeds() -> Vec<String> {
    let task = task_info();
    let status = status();
    let ids = r#""executor_id": {"value": "e1"}, "framework_id": {"value": "f1"}"#;
    vec![
        format!(
            r#"{{{ids}, "type": "SUBSCRIBE", "subscribe": {{"unacknowledged_tasks": [{task}], "unacknowledged_updates": [{{"status": {status}}}]}}}}"#
        ),
        format!(r#"{{{ids}, "type": "UPDATE", "update": {{"status": {status}}}}}"#),
        format!(r#"{{{ids}, "type": "MESSAGE", "message": {{"data": "aGk="}}}}"#),
        format!(r#"{{{ids}, "type": "HEARTBEAT"}}"#),
    ]
}

fn executor_event_seeds() -> Vec<String> {
    let task = task_info();
    let executor = executor_info();
    vec![
        format!(r#"{{"type": "SUBSCRIBED", "subscribed": {{"executor_info": {executor}, "framework_info": {FRAMEWORK}, "agent_info": {AGENT}, "container_id": {{"value": "c1", "parent": {{"value": "c0"}}}}}}}}"#),
        format!(r#"{{"type": "LAUNCH", "launch": {{"task": {task}}}}}"#),
        r#"{"type": "KILL", "kill": {"task_id": {"value": "t1"}, "kill_policy": {"grace_period": {"nanoseconds": 1000}}}}"#.into(),
        r#"{"type": "ACKNOWLEDGED", "acknowledged": {"task_id": {"value": "t1"}, "uuid": "AAECAwQFBgcICQoLDA0ODw=="}}"#.into(),
        r#"{"type": "MESSAGE", "message": {"data": "aGk="}}"#.into(),
        r#"{"type": "ERROR", "error": {"message": "e"}}"#.into(),
        r#"{"type": "SHUTDOWN"}"#.into(),
        r#"{"type": "HEARTBEAT"}"#.into(),
    ]
}

fn agent_subscribe_seeds() -> Vec<String> {
    let task = task_info();
    vec![
        format!(
            r#"{{"protocol_version": 1, "agent_info": {AGENT}, "endpoint": "http://127.0.0.1:5051", "tasks": [{{"framework_info": {FRAMEWORK}, "task": {task}, "state": "TASK_RUNNING"}}]}}"#
        ),
        format!(
            r#"{{"protocol_version": 1, "agent_info": {AGENT}, "endpoint": "http://127.0.0.1:5051"}}"#
        ),
    ]
}

fn agent_call_seeds() -> Vec<String> {
    let status = status();
    vec![
        format!(r#"{{"agent_id": {{"value": "A"}}, "type": "UPDATE", "update": {{"framework_id": {{"value": "f1"}}, "status": {status}}}}}"#),
        r#"{"agent_id": {"value": "A"}, "type": "PONG"}"#.into(),
        r#"{"agent_id": {"value": "A"}, "type": "EXECUTOR_EXITED", "executor_exited": {"framework_id": {"value": "f1"}, "executor_id": {"value": "e1"}, "status": 256}}"#.into(),
        r#"{"agent_id": {"value": "A"}, "type": "MESSAGE", "message": {"framework_id": {"value": "f1"}, "executor_id": {"value": "e1"}, "data": "aGk="}}"#.into(),
    ]
}

fn master_event_seeds() -> Vec<String> {
    let task = task_info();
    vec![
        r#"{"type": "REGISTERED", "registered": {"agent_id": {"value": "A"}, "ping_interval_seconds": 15}}"#.into(),
        format!(r#"{{"type": "RUN_TASK", "run_task": {{"framework_info": {FRAMEWORK}, "task": {task}}}}}"#),
        r#"{"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "f1"}, "task_id": {"value": "t1"}, "kill_policy": {"grace_period": {"nanoseconds": 5}}}}"#.into(),
        r#"{"type": "SHUTDOWN_EXECUTOR", "shutdown_executor": {"framework_id": {"value": "f1"}, "executor_id": {"value": "e1"}}}"#.into(),
        r#"{"type": "SHUTDOWN_FRAMEWORK", "shutdown_framework": {"framework_id": {"value": "f1"}}}"#.into(),
        r#"{"type": "ACKNOWLEDGE", "acknowledge": {"framework_id": {"value": "f1"}, "task_id": {"value": "t1"}, "uuid": "AAECAwQFBgcICQoLDA0ODw=="}}"#.into(),
        r#"{"type": "MESSAGE", "message": {"framework_id": {"value": "f1"}, "executor_id": {"value": "e1"}, "data": "aGk="}}"#.into(),
        r#"{"type": "PING"}"#.into(),
        r#"{"type": "SHUTDOWN", "shutdown": {"message": "bye"}}"#.into(),
    ]
}

/// A `TaskInfo` as frameworks send it, for the validation target.
pub fn task_info_seed() -> String {
    task_info()
}

/// Declares a message target: `$name`, type, encoding, JSON seeds.
macro_rules! message_target {
    ($name:literal, $about:literal, $ty:ty, $encoding:expr, $seeds:expr) => {
        crate::Target {
            name: $name,
            about: $about,
            seeds: || {
                let json: Vec<String> = $seeds;
                let json: Vec<&str> = json.iter().map(String::as_str).collect();
                seeds::<$ty>(&json, $encoding)
            },
            generate: Some(|rng| generated::<$ty>(rng, $encoding)),
            dictionary: || dictionary::<$ty>($encoding),
            setup: || setup::<$ty>($encoding),
            max_len: 16 * 1024,
        }
    };
}

pub fn targets() -> Vec<crate::Target> {
    use Encoding::{Json, Protobuf};
    vec![
        message_target!(
            "scheduler-call-json",
            "scheduler API call in JSON (POST /api/v1/scheduler)",
            v1::scheduler::Call,
            Json,
            scheduler_call_seeds()
        ),
        message_target!(
            "scheduler-call-protobuf",
            "scheduler API call in protobuf (POST /api/v1/scheduler)",
            v1::scheduler::Call,
            Protobuf,
            scheduler_call_seeds()
        ),
        message_target!(
            "scheduler-event-json",
            "scheduler API event in JSON (read by `corral execute`)",
            v1::scheduler::Event,
            Json,
            scheduler_event_seeds()
        ),
        message_target!(
            "executor-call-json",
            "executor API call in JSON (POST /api/v1/executor)",
            v1::executor::Call,
            Json,
            executor_call_seeds()
        ),
        message_target!(
            "executor-call-protobuf",
            "executor API call in protobuf (POST /api/v1/executor)",
            v1::executor::Call,
            Protobuf,
            executor_call_seeds()
        ),
        message_target!(
            "executor-event-protobuf",
            "executor API event in protobuf (read by the command executor)",
            v1::executor::Event,
            Protobuf,
            executor_event_seeds()
        ),
        message_target!(
            "agent-subscribe-protobuf",
            "agent protocol Subscribe (POST /agent/v1/subscribe)",
            ap::Subscribe,
            Protobuf,
            agent_subscribe_seeds()
        ),
        message_target!(
            "agent-call-protobuf",
            "agent protocol AgentCall (POST /agent/v1/call)",
            ap::AgentCall,
            Protobuf,
            agent_call_seeds()
        ),
        message_target!(
            "master-event-protobuf",
            "agent protocol MasterEvent (read by the agent's master link)",
            ap::MasterEvent,
            Protobuf,
            master_event_seeds()
        ),
    ]
}
