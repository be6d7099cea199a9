//! Registry keys as znode names: ZooKeeper forbids `/` in a name and
//! `.`/`..` as names, so anything but `[A-Za-z0-9_-]` and inner dots is
//! written `%XX`.

pub fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, b) in key.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn unescape(name: &str) -> Result<String, String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("'{name}' is not an escaped registry key"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{name}' is not an escaped registry key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_never_make_a_path() {
        for key in ["a4ed-S0", "f/../x", ".", "..", "with space", "ü", "a.b"] {
            let name = escape(key);
            assert!(!name.contains('/') && name != "." && name != "..", "{name}");
            assert_eq!(unescape(&name).unwrap(), key);
        }
        assert_eq!(escape("a4ed-S0"), "a4ed-S0");
        assert!(unescape("%zz").is_err());
    }
}
