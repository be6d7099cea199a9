//! The `data` of a `/files/read` answer: the file's bytes carried exactly in
//! a JSON string.
//!
//! Mesos writes the raw bytes into the string. Corral keeps that shape and
//! makes it lossless: byte `b` is the character U+00`b` (U+0000 to U+00FF,
//! i.e. the bytes read as ISO-8859-1), so any byte sequence, UTF-8 or not,
//! survives the trip and `data` has one character per byte (the answer's
//! `offset` plus the character count is the next offset). ASCII text reads
//! as itself; a client that wants the file's text decodes the characters
//! back to bytes ([`decode_data`]) and then the bytes as it sees fit.

/// `bytes` as a string of one character per byte.
pub fn encode_data(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A character above U+00FF in `data`: not something [`encode_data`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character {character:?} at {index} of 'data' is not a byte (above U+00FF)")]
pub struct NotAByte {
    pub character: char,
    pub index: usize,
}

/// The bytes [`encode_data`] turned into `data`.
pub fn decode_data(data: &str) -> Result<Vec<u8>, NotAByte> {
    data.chars()
        .enumerate()
        .map(|(index, character)| {
            u8::try_from(character).map_err(|_| NotAByte { character, index })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_survives_json() {
        let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0, b'\n']).collect();
        let json = serde_json::json!({"data": encode_data(&bytes)}).to_string();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(decode_data(back["data"].as_str().unwrap()).unwrap(), bytes);
        assert_eq!(encode_data(&bytes).chars().count(), bytes.len());
    }

    #[test]
    fn ascii_reads_as_itself_and_utf8_as_its_bytes() {
        assert_eq!(encode_data(b"hello\n"), "hello\n");
        assert_eq!(encode_data("é".as_bytes()), "\u{c3}\u{a9}");
        assert_eq!(
            decode_data("a\u{20ac}"),
            Err(NotAByte {
                character: '\u{20ac}',
                index: 1
            })
        );
    }
}
