//! RecordIO framing (`corral::wire::recordio`), as the agent's master link,
//! the command executor and `corral execute` read event streams.
//!
//! The input's first 8 bytes choose how the rest, the stream, is cut into
//! chunks. Properties: the records (or the error) do not depend on the
//! chunking; records framed with `record` read back as themselves; and the
//! driver's allocation bound holds (a length prefix is not preallocated).

use corral::wire::recordio::{record, RecordIoError, RecordReader};

use crate::{show, Check, Rng, Target, Verdict};

/// Reads `stream` pushed in `chunks`: the records before the first error,
/// and the error.
fn read(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<RecordIoError>) {
    let mut reader = RecordReader::default();
    let mut records = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&stream.len())) {
        match reader.push(&stream[from..to]) {
            Ok(more) => records.extend(more),
            Err(e) => return (records, Some(e)),
        }
        from = to;
    }
    (records, None)
}

/// Sorted cut points in `0..=len` chosen by `seed`.
fn cuts(seed: u64, len: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut cuts: Vec<usize> = match seed % 4 {
        // One byte at a time: every prefix state is seen.
        0 => (1..len).collect(),
        _ => (0..rng.below(8)).map(|_| rng.below(len + 1)).collect(),
    };
    cuts.sort_unstable();
    cuts
}

fn check(input: &[u8]) -> Verdict {
    let (seed, stream) = if input.len() >= 8 {
        let (head, rest) = input.split_at(8);
        (u64::from_le_bytes(head.try_into().expect("8 bytes")), rest)
    } else {
        (0, input)
    };
    let (whole, whole_error) = read(stream, &[]);
    let (chunked, chunked_error) = read(stream, &cuts(seed, stream.len()));
    assert_eq!(
        chunked_error,
        whole_error,
        "the error depends on the chunking for {}",
        show(stream)
    );
    if whole_error.is_none() {
        assert_eq!(chunked, whole, "the records depend on the chunking");
    } else {
        // A push that fails drops the records it completed; chunked, some
        // of those came out before the error.
        assert!(
            whole.is_empty() && chunked.len() <= stream.len(),
            "records came with an error"
        );
    }
    // Framing any payloads, here the stream cut at its newlines, reads back.
    let payloads: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let framed: Vec<u8> = payloads.iter().flat_map(|p| record(p)).collect();
    let (back, error) = read(&framed, &cuts(seed.rotate_left(17), framed.len()));
    assert_eq!(error, None, "framed records are not read back");
    assert_eq!(back, payloads, "framed records read back differently");
    if whole_error.is_none() {
        Verdict::Accepted
    } else {
        Verdict::Rejected
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let event = br#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f1"},"heartbeat_interval_seconds":15}}"#;
    let heartbeat = br#"{"type":"HEARTBEAT"}"#;
    let stream = [
        record(event),
        record(heartbeat),
        record(b""),
        record(&[0, 0xff, b'\n']),
    ]
    .concat();
    let with = |seed: u64, stream: &[u8]| [&seed.to_le_bytes()[..], stream].concat();
    vec![
        with(0, &stream),
        with(1, &stream),
        with(2, &stream[..stream.len() - 3]),
        with(3, b"99999999999\n"),
        with(0, b"18446744073709551615\nxx"),
        with(1, b"18446744073709551616\n"),
        with(2, b"  12 \nabcdefghijkl"),
        with(3, b"-1\n"),
        with(0, b"1\na1\nb\xff\n"),
        with(1, b"0\n0\n0\n0\n0\n0\n"),
    ]
}

fn dictionary() -> Vec<Vec<u8>> {
    [
        &b"\n"[..],
        b"0\n",
        b"1\n",
        b"10\n",
        b"99999999999\n",
        b"18446744073709551615\n",
        b"18446744073709551614\n",
        b"340282366920938463463374607431768211456\n",
        b"+5\n",
        b" 5\n",
        b"\xff\n",
    ]
    .iter()
    .map(|t| t.to_vec())
    .collect()
}

pub fn target() -> Target {
    Target {
        name: "recordio",
        about: "RecordIO framing of event streams, cut into arbitrary chunks",
        seeds,
        generate: None,
        dictionary,
        setup: || -> Check { Box::new(check) },
        max_len: 4096,
    }
}
