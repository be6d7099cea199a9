//! Mesos' JSON for every generated message, written directly: one
//! `MesosJson` impl per message, generated at build time from the protobuf
//! descriptors (`core/build/json_encoders.rs`), and the helpers it calls.
//! It replaces transcoding each message through a dynamic message (what
//! made RECONCILE of 100k tasks take a second over JSON), and writes the
//! very same bytes (`tests` below compare both on every event type).

use base64::{engine::general_purpose::STANDARD, Engine};

/// A message that writes itself as Mesos' JSON.
pub trait MesosJson {
    /// Appends the message's JSON object to `out`.
    fn write_json(&self, out: &mut Vec<u8>);

    /// The message's JSON object.
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out);
        out
    }
}

/// Recursive fields are boxed by prost.
impl<T: MesosJson> MesosJson for Box<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        (**self).write_json(out);
    }
}

/// An object being written: a comma before every field but the first.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Fields<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Fields { out, first: true }
    }

    /// Writes `"name":` (proto field names need no escaping) and returns
    /// where the value goes.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A repeated field: left out when empty.
    fn list<T>(&mut self, name: &str, items: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(name);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(out, item);
        }
        out.push(b']');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing a string to memory cannot fail");
}

/// Padded standard base64, as a JSON string.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).expect("a message's bytes fit in memory");
    out.resize(start + len, 0);
    STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("the buffer was sized for the encoding");
    out.push(b'"');
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn write_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A finite double as serde_json writes it (the shortest text that reads
/// back exactly), the others as strings.
fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        serde_json::to_writer(out, &value).expect("writing a number to memory cannot fail");
    } else {
        write_non_finite(out, value.is_nan(), value > 0.0);
    }
}

fn write_non_finite(out: &mut Vec<u8>, nan: bool, positive: bool) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

/// An enum by its name, or by its number when the number is unknown.
fn write_enum(out: &mut Vec<u8>, number: i32, name: fn(i32) -> Option<&'static str>) {
    match name(number) {
        Some(name) => {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
        None => write_int(out, number),
    }
}

include!(concat!(env!("OUT_DIR"), "/mesos_json.rs"));

#[cfg(test)]
mod tests {
    //! The generated encoders against the mapping they replace (prost-
    //! reflect's dynamic messages with Mesos' options), byte for byte, on
    //! a corpus of every API message and every event and call type, each
    //! with every field filled with awkward values.

    use std::collections::BTreeSet;

    use prost::Message;
    use prost_reflect::{
        DynamicMessage, Kind, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
    };

    use super::MesosJson;
    use crate::proto::{agent as ap, v1};

    /// Today's mapping before the generated encoders: every message
    /// transcoded to a dynamic one and serialized with Mesos' options.
    fn through_dynamic_message(message: &impl ReflectMessage) -> Vec<u8> {
        let options = SerializeOptions::new()
            .stringify_64_bit_integers(false)
            .use_proto_field_name(true)
            .skip_default_fields(true);
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::new(&mut out);
        message
            .transcode_to_dynamic()
            .serialize_with_options(&mut serializer, &options)
            .unwrap();
        out
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const STRINGS: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\",
        "control \u{1} \n \t \u{7f} \u{1f}",
        "unicode é ☃ 😀 \u{2028}",
        "</script>",
    ];

    fn f64_value(rng: &mut Rng) -> f64 {
        match rng.below(8) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 0.0,
            4 => -0.0,
            5 => 5e-324,
            6 => (rng.below(1_000_000) as f64) / 8.0,
            _ => f64::from_bits(rng.next()),
        }
    }

    fn i64_value(rng: &mut Rng) -> i64 {
        match rng.below(4) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => 0,
            _ => rng.next() as i64,
        }
    }

    /// A value of `kind`, messages filled to `depth`.
    fn value(kind: &Kind, rng: &mut Rng, depth: usize, seen: &mut BTreeSet<String>) -> Value {
        match kind {
            Kind::Double => Value::F64(f64_value(rng)),
            Kind::Float => Value::F32(f64_value(rng) as f32),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(i64_value(rng) as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(i64_value(rng)),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(i64_value(rng) as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(i64_value(rng) as u64),
            Kind::Bool => Value::Bool(rng.below(2) == 0),
            Kind::String => Value::String(STRINGS[rng.below(STRINGS.len() as u64) as usize].into()),
            Kind::Bytes => {
                let len = rng.below(20) as usize;
                Value::Bytes(
                    (0..len)
                        .map(|_| rng.next() as u8)
                        .collect::<Vec<_>>()
                        .into(),
                )
            }
            Kind::Enum(e) => {
                let values: Vec<i32> = e.values().map(|v| v.number()).collect();
                // Now and then a number the enum does not name.
                if rng.below(6) == 0 {
                    Value::EnumNumber(1000 + rng.below(50) as i32)
                } else {
                    Value::EnumNumber(values[rng.below(values.len() as u64) as usize])
                }
            }
            Kind::Message(m) => Value::Message(filled(m, rng, depth, seen)),
        }
    }

    /// A message with each field set (now and then left unset) to values
    /// of its kind; nested messages down to `depth`.
    fn filled(
        desc: &MessageDescriptor,
        rng: &mut Rng,
        depth: usize,
        seen: &mut BTreeSet<String>,
    ) -> DynamicMessage {
        seen.insert(desc.full_name().to_owned());
        let mut message = DynamicMessage::new(desc.clone());
        if depth == 0 {
            return message;
        }
        for field in desc.fields() {
            if rng.below(5) == 0 {
                continue;
            }
            let kind = field.kind();
            let v = if field.is_list() {
                let n = rng.below(4) as usize;
                Value::List((0..n).map(|_| value(&kind, rng, depth - 1, seen)).collect())
            } else {
                value(&kind, rng, depth - 1, seen)
            };
            message.set_field(&field, v);
        }
        message
    }

    /// `M` filled at random `rounds` times, once with each value of its
    /// `type` enum when it has one; each compared both ways.
    fn check<M: Message + Default + ReflectMessage + MesosJson>(
        rounds: usize,
        seen: &mut BTreeSet<String>,
    ) -> usize {
        let desc = M::default().descriptor();
        let types: Vec<i32> = desc
            .get_field_by_name("type")
            .and_then(|f| {
                f.kind()
                    .as_enum()
                    .map(|e| e.values().map(|v| v.number()).collect())
            })
            .unwrap_or_default();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ desc.full_name().len() as u64);
        let mut compared = 0;
        for round in 0..rounds.max(types.len()) {
            let mut dynamic = filled(&desc, &mut rng, 6, seen);
            if let Some(t) = types.get(round) {
                dynamic.set_field_by_name("type", Value::EnumNumber(*t));
            }
            let message = M::decode(dynamic.encode_to_vec().as_slice()).unwrap();
            let generated = message.to_json();
            let reference = through_dynamic_message(&message);
            assert_eq!(
                String::from_utf8_lossy(&generated),
                String::from_utf8_lossy(&reference),
                "{} (round {round})",
                desc.full_name()
            );
            compared += 1;
        }
        compared
    }

    #[test]
    fn generated_json_is_byte_for_byte_the_dynamic_mapping_on_every_message() {
        use v1::{agent, executor, master, scheduler};
        let mut seen = BTreeSet::new();
        let rounds = 60;
        let mut compared = 0;
        compared += check::<scheduler::Event>(rounds, &mut seen);
        compared += check::<scheduler::Call>(rounds, &mut seen);
        compared += check::<executor::Event>(rounds, &mut seen);
        compared += check::<executor::Call>(rounds, &mut seen);
        compared += check::<master::Event>(rounds, &mut seen);
        compared += check::<master::Call>(rounds, &mut seen);
        compared += check::<master::Response>(rounds, &mut seen);
        compared += check::<agent::Call>(rounds, &mut seen);
        compared += check::<agent::Response>(rounds, &mut seen);
        compared += check::<ap::MasterEvent>(rounds, &mut seen);
        compared += check::<ap::AgentCall>(rounds, &mut seen);
        compared += check::<ap::Subscribe>(rounds, &mut seen);
        compared += check::<v1::ResourceStatistics>(rounds, &mut seen);
        compared += check::<v1::Value>(rounds, &mut seen);
        let every: BTreeSet<String> = crate::proto::DESCRIPTOR_POOL
            .all_messages()
            .map(|m| m.full_name().to_owned())
            .collect();
        let missed: Vec<_> = every.difference(&seen).collect();
        assert!(
            missed.is_empty(),
            "messages the corpus never filled: {missed:?}"
        );
        assert!(compared >= 14 * rounds, "{compared} messages compared");
    }

    #[test]
    fn events_as_the_master_sends_them_encode_as_before() {
        let update = v1::scheduler::Event {
            r#type: Some(v1::scheduler::event::Type::Update as i32),
            update: Some(v1::scheduler::event::Update {
                status: v1::TaskStatus {
                    task_id: v1::TaskId { value: "t1".into() },
                    state: v1::TaskState::TaskRunning as i32,
                    source: Some(v1::task_status::Source::Executor as i32),
                    agent_id: Some(v1::AgentId {
                        value: "a-S0".into(),
                    }),
                    timestamp: Some(1_764_800_000.123_456),
                    uuid: Some(vec![7; 16]),
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(update.to_json()).unwrap(),
            r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t1"},"state":"TASK_RUNNING","agent_id":{"value":"a-S0"},"timestamp":1764800000.123456,"source":"SOURCE_EXECUTOR","uuid":"BwcHBwcHBwcHBwcHBwcHBw=="}}}"#
        );
        assert_eq!(update.to_json(), through_dynamic_message(&update));
    }
}
