//! Registry keys as znode names: ZooKeeper forbids `/` in a name and
//! `.`/`..` as names, so anything but `[A-Za-z0-9_-]` and inner dots is
//! written `%XX`. Records are spread over [`BUCKETS`] folders by a hash of
//! their name, so that no listing comes near ZooKeeper's 1 MB packet limit
//! (20,000 agent ids in one folder would list about 0.9 MB).

/// Folders per table.
pub const BUCKETS: usize = 256;

/// The folder of a record by its (escaped) name: two hex digits of the
/// name's FNV-1a hash.
pub fn bucket(key: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:02x}", hash as usize % BUCKETS)
}

/// Every folder name, in order.
pub fn buckets() -> impl Iterator<Item = String> {
    (0..BUCKETS).map(|b| format!("{b:02x}"))
}

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
    fn keys_spread_over_every_bucket_and_always_land_in_the_same_one() {
        let mut seen = std::collections::HashMap::new();
        for i in 0..20_000 {
            let key = format!("3f1c2a9e-7b4d-4e15-9a0c-5d6e7f809a1b-S{i}");
            let b = bucket(&key);
            assert_eq!(b, bucket(&key));
            *seen.entry(b).or_insert(0usize) += 1;
        }
        assert_eq!(seen.len(), BUCKETS, "every bucket is used");
        let fullest = seen.values().max().copied().unwrap_or_default();
        assert!(
            fullest < 200,
            "20,000 keys, at most {fullest} in one bucket"
        );
        assert!(seen.keys().all(|b| buckets().any(|x| &x == b)));
    }

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
