//! The `data` of a `/files/read` answer (`corral::wire::files`), as
//! `corral tail` decodes it. Any bytes encode to one character each and
//! come back exactly through JSON; decoding text either gives bytes that
//! encode back to it or names the first character that is not a byte.

use corral::wire::files::{decode_data, encode_data, NotAByte};

use crate::{Check, Target, Verdict};

fn check(input: &[u8]) -> Verdict {
    let data = encode_data(input);
    assert_eq!(
        data.chars().count(),
        input.len(),
        "not one character per byte"
    );
    let json = serde_json::json!({ "data": data }).to_string();
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("our JSON parses");
    let back = decode_data(parsed["data"].as_str().expect("a string")).expect("our data decodes");
    assert_eq!(back, input, "bytes changed through JSON");

    let Ok(text) = std::str::from_utf8(input) else {
        return Verdict::Rejected;
    };
    match decode_data(text) {
        Ok(bytes) => {
            assert_eq!(
                encode_data(&bytes),
                text,
                "decoded data does not encode back"
            );
            Verdict::Accepted
        }
        Err(NotAByte { character, index }) => {
            let mut chars = text.chars();
            assert!(
                chars.by_ref().take(index).all(|c| u32::from(c) <= 0xff),
                "an earlier character is not a byte"
            );
            assert_eq!(
                chars.next(),
                Some(character),
                "the wrong character is named"
            );
            assert!(u32::from(character) > 0xff, "a byte is named as not a byte");
            Verdict::Rejected
        }
    }
}

pub fn target() -> Target {
    Target {
        name: "files-data",
        about: "`data` of /files/read: bytes to characters and back, through JSON",
        seeds: || {
            vec![
                b"hello\n".to_vec(),
                (0..=255u8).collect(),
                "é€\u{10ffff}".as_bytes().to_vec(),
                b"\xc3\xa9\xff\x00".to_vec(),
                "\u{ff}\u{100}".as_bytes().to_vec(),
            ]
        },
        generate: None,
        dictionary: || {
            vec![
                "\u{ff}".into(),
                "\u{100}".into(),
                "\u{20ac}".into(),
                vec![0xc3],
                vec![0],
            ]
        },
        setup: || -> Check { Box::new(check) },
        max_len: 4096,
    }
}
