//! Messages made from scratch out of their protobuf descriptors: every
//! field of every message Corral decodes can be reached, with the values
//! at the edges (empty, huge, NaN, negative, unknown enum numbers).

use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

use crate::Rng;

/// Nesting deeper than this gets only required fields; much deeper, none.
const DEPTH: usize = 5;

/// A random message of type `descriptor`.
pub fn message(rng: &mut Rng, descriptor: &MessageDescriptor) -> DynamicMessage {
    message_at(rng, descriptor, 0)
}

fn message_at(rng: &mut Rng, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if depth > 3 * DEPTH {
        return message;
    }
    for field in descriptor.fields() {
        let required = field.cardinality() == Cardinality::Required;
        let wanted = if depth >= DEPTH {
            required
        } else {
            required || rng.one_in(2)
        };
        if !wanted {
            continue;
        }
        let kind = field.kind();
        let value = if field.is_map() {
            let entry = kind.as_message().expect("a map field is a message").clone();
            let (key, value) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            let map = (0..rng.length(4))
                .filter_map(|_| {
                    let k = map_key(rng, &key.kind())?;
                    Some((k, scalar(rng, &value.kind(), depth + 1)))
                })
                .collect();
            Value::Map(map)
        } else if field.is_list() {
            Value::List(
                (0..rng.length(if depth < 2 { 6 } else { 3 }))
                    .map(|_| scalar(rng, &kind, depth + 1))
                    .collect(),
            )
        } else {
            scalar(rng, &kind, depth + 1)
        };
        message.set_field(&field, value);
    }
    message
}

fn map_key(rng: &mut Rng, kind: &Kind) -> Option<MapKey> {
    Some(match kind {
        Kind::String => MapKey::String(string(rng)),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(rng.next_u64() as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(rng.next_u64() as i64),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(rng.next_u64() as u32),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(rng.next_u64()),
        Kind::Bool => MapKey::Bool(rng.one_in(2)),
        _ => return None,
    })
}

fn scalar(rng: &mut Rng, kind: &Kind, depth: usize) -> Value {
    match kind {
        Kind::Double => Value::F64(double(rng)),
        Kind::Float => Value::F32(double(rng) as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(integer(rng) as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(integer(rng)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(integer(rng) as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(integer(rng) as u64),
        Kind::Bool => Value::Bool(rng.one_in(2)),
        Kind::String => Value::String(string(rng)),
        Kind::Bytes => Value::Bytes((0..rng.length(32)).map(|_| rng.byte()).collect()),
        Kind::Message(m) => Value::Message(message_at(rng, m, depth)),
        Kind::Enum(e) => Value::EnumNumber(enum_number(rng, e)),
    }
}

fn enum_number(rng: &mut Rng, descriptor: &EnumDescriptor) -> i32 {
    if rng.one_in(16) {
        // Not a value of the enum: what a newer peer might send.
        return integer(rng) as i32;
    }
    let values: Vec<i32> = descriptor.values().map(|v| v.number()).collect();
    *rng.pick(&values)
}

fn integer(rng: &mut Rng) -> i64 {
    match rng.below(6) {
        0 => *rng.pick(&[
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            u32::MAX.into(),
            1 << 53,
            (1 << 53) + 1,
        ]),
        1 => rng.next_u64() as i64,
        _ => rng.below(100_000) as i64,
    }
}

fn double(rng: &mut Rng) -> f64 {
    match rng.below(6) {
        0 => *rng.pick(&[
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::EPSILON,
            1e-9,
            0.1,
        ]),
        1 => f64::from_bits(rng.next_u64()),
        _ => rng.below(1_000_000) as f64 / 8.0,
    }
}

/// Short ids and names mostly; sometimes what ids must not be.
fn string(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => rng
            .pick(&[
                "",
                ".",
                "..",
                "/",
                "/etc/passwd",
                "../../x",
                "a b",
                "a\0b",
                "\u{feff}",
                "é",
                "*",
                "cpus",
                "mem",
                "ports",
                "\n",
                "\u{10ffff}",
            ])
            .to_string(),
        1 => "x".repeat(rng.length(300)),
        2 => (0..rng.length(16))
            .map(|_| char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?'))
            .collect(),
        _ => (0..1 + rng.length(12))
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect(),
    }
}
