//! Request and response encodings of the Mesos v1 HTTP APIs: protobuf, and
//! JSON with Mesos' mapping (proto field names, enums by name, 64-bit
//! integers as numbers, unset fields omitted, unknown fields ignored).

use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, ReflectMessage};

use super::json_out::MesosJson;
use thiserror::Error;

pub const JSON: &str = "application/json";
pub const PROTOBUF: &str = "application/x-protobuf";

/// A wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => JSON,
            Encoding::Protobuf => PROTOBUF,
        }
    }

    /// The encoding of a request body, from its exact `Content-Type` (as
    /// Mesos compares it: parameters such as `; charset=utf-8` do not match).
    pub fn from_content_type(value: Option<&str>) -> Result<Encoding, CodecError> {
        match value {
            Some(JSON) => Ok(Encoding::Json),
            Some(PROTOBUF) => Ok(Encoding::Protobuf),
            Some(other) => Err(CodecError::UnsupportedContentType(other.to_owned())),
            None => Err(CodecError::MissingContentType),
        }
    }

    /// The response encoding for an `Accept` header: JSON when acceptable
    /// (or when the header is missing), else protobuf, else none.
    pub fn from_accept(value: Option<&str>) -> Option<Encoding> {
        let Some(value) = value else {
            return Some(Encoding::Json);
        };
        let accepts = |wanted: &str| {
            value.split(',').any(|item| {
                let media = item.split(';').next().unwrap_or("").trim();
                media == wanted || media == "*/*" || media == "application/*"
            })
        };
        if accepts(JSON) {
            Some(Encoding::Json)
        } else if accepts(PROTOBUF) {
            Some(Encoding::Protobuf)
        } else {
            None
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("expecting 'Content-Type' of application/json or application/x-protobuf")]
    MissingContentType,
    #[error(
        "unsupported 'Content-Type' '{0}': expecting application/json or application/x-protobuf"
    )]
    UnsupportedContentType(String),
    #[error("failed to parse body into {message}: {reason}")]
    Malformed {
        message: &'static str,
        reason: String,
    },
}

/// Encodes `message` for the wire (JSON by the generated encoders,
/// `json_out.rs`).
pub fn encode<M: Message + MesosJson>(message: &M, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        Encoding::Json => message.to_json(),
    }
}

/// Decodes a request body.
pub fn decode<M: Message + ReflectMessage + Default>(
    body: &[u8],
    encoding: Encoding,
) -> Result<M, CodecError> {
    let name = std::any::type_name::<M>()
        .rsplit("::")
        .next()
        .unwrap_or("message");
    let malformed = |reason: String| CodecError::Malformed {
        message: if name == "Call" { "Call" } else { "message" },
        reason,
    };
    match encoding {
        Encoding::Protobuf => M::decode(body).map_err(|e| malformed(e.to_string())),
        Encoding::Json => {
            let descriptor = M::default().descriptor();
            let mut de = serde_json::Deserializer::from_slice(body);
            let options = DeserializeOptions::new().deny_unknown_fields(false);
            let dynamic = DynamicMessage::deserialize_with_options(descriptor, &mut de, &options)
                .map_err(|e| malformed(e.to_string()))?;
            de.end().map_err(|e| malformed(e.to_string()))?;
            dynamic
                .transcode_to::<M>()
                .map_err(|e| malformed(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{self, scheduler, task_status, TaskState};

    #[test]
    fn json_uses_mesos_names_enum_names_and_omits_unset_fields() {
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: TaskState::TaskError as i32,
            source: Some(task_status::Source::Master as i32),
            reason: Some(task_status::Reason::TaskInvalid as i32),
            uuid: Some(vec![0xff; 16]),
            ..Default::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&encode(&status, Encoding::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "task_id": {"value": "t1"},
                "state": "TASK_ERROR",
                "source": "SOURCE_MASTER",
                "reason": "REASON_TASK_INVALID",
                "uuid": "/////////////////////w==",
            })
        );
    }

    #[test]
    fn sixty_four_bit_integers_are_numbers_and_defaults_of_required_fields_are_kept() {
        let range = v1::value::Range {
            begin: 31000,
            end: 32000,
        };
        assert_eq!(
            encode(&range, Encoding::Json),
            br#"{"begin":31000,"end":32000}"#
        );
        let status = v1::TaskStatus {
            state: TaskState::TaskStarting as i32,
            ..Default::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&encode(&status, Encoding::Json)).unwrap();
        assert_eq!(json["state"], "TASK_STARTING");
    }

    #[test]
    fn doubles_come_back_from_json_exactly() {
        // Found by the fuzz targets (`fuzz/`): serde_json's default float
        // parser answered 1.4365376515004383e-198 for the text written for
        // 1.4365376515004382e-198, one unit in the last place off.
        for value in [
            1.4365376515004382e-198,
            -2.831784883476935e-111,
            2.388859554948635e-121,
            -2.7940351126733674e197,
            0.1,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let filters = v1::Filters {
                refuse_seconds: Some(value),
            };
            let back: v1::Filters =
                decode(&encode(&filters, Encoding::Json), Encoding::Json).unwrap();
            assert_eq!(back.refuse_seconds.map(f64::to_bits), Some(value.to_bits()));
        }
    }

    #[test]
    fn json_input_ignores_unknown_fields_and_accepts_numbers_as_strings() {
        let body = br#"{"type":"DECLINE","framework_id":{"value":"f"},"future_field":1,
            "decline":{"offer_ids":[{"value":"o1"}],"filters":{"refuse_seconds":"60"}}}"#;
        let call: scheduler::Call = decode(body, Encoding::Json).unwrap();
        assert_eq!(call.r#type, Some(scheduler::call::Type::Decline as i32));
        let decline = call.decline.unwrap();
        assert_eq!(decline.offer_ids[0].value, "o1");
        assert_eq!(decline.filters.unwrap().refuse_seconds, Some(60.0));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [&b"{"[..], b"[]", br#"{"type":{}}"#, b"{} trailing"] {
            assert!(
                decode::<scheduler::Call>(body, Encoding::Json).is_err(),
                "{body:?}"
            );
        }
        assert!(decode::<scheduler::Call>(&[0xff, 0xff, 0xff], Encoding::Protobuf).is_err());
    }

    #[test]
    fn protobuf_round_trips() {
        let call = scheduler::Call {
            r#type: Some(scheduler::call::Type::Revive as i32),
            ..Default::default()
        };
        let back: scheduler::Call =
            decode(&encode(&call, Encoding::Protobuf), Encoding::Protobuf).unwrap();
        assert_eq!(back, call);
    }

    #[test]
    fn content_negotiation_follows_mesos() {
        assert_eq!(Encoding::from_content_type(Some(JSON)), Ok(Encoding::Json));
        assert!(Encoding::from_content_type(Some("application/json; charset=utf-8")).is_err());
        assert_eq!(
            Encoding::from_content_type(None),
            Err(CodecError::MissingContentType)
        );
        assert_eq!(Encoding::from_accept(None), Some(Encoding::Json));
        assert_eq!(
            Encoding::from_accept(Some(PROTOBUF)),
            Some(Encoding::Protobuf)
        );
        assert_eq!(Encoding::from_accept(Some("*/*")), Some(Encoding::Json));
        assert_eq!(Encoding::from_accept(Some("text/html")), None);
    }
}
