//! RecordIO, the framing of the v1 APIs' event streams and of Corral's agent
//! protocol: each record is `<length>\n<bytes>`.

use thiserror::Error;

/// A RecordIO stream that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordIoError {
    #[error("RecordIO length prefix is not text: {0:?}")]
    NotText(Vec<u8>),
    #[error("bad RecordIO length {0:?}")]
    BadLength(String),
    #[error("RecordIO length prefix longer than {MAX_PREFIX} bytes: {0:?}")]
    PrefixTooLong(String),
}

/// The longest length prefix read, newline excluded: a length is at most
/// 20 digits, and the rest leaves room for whitespace around them. A
/// stream whose prefix runs past it is refused rather than buffered.
pub const MAX_PREFIX: usize = 64;

/// Frames one record for a RecordIO stream.
pub fn record(bytes: &[u8]) -> Vec<u8> {
    let mut framed = format!("{}\n", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed
}

/// Splits a RecordIO byte stream into records as bytes arrive.
#[derive(Debug, Default)]
pub struct RecordReader {
    buffer: Vec<u8>,
}

impl RecordReader {
    /// Adds bytes; returns every record now complete, or an error for a
    /// malformed length prefix (the records completed by the same push are
    /// then dropped).
    ///
    /// A record's bytes are buffered as they arrive, never reserved ahead
    /// from its length prefix; a push takes time in proportion to its
    /// bytes, however many records they hold.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, RecordIoError> {
        self.buffer.extend_from_slice(bytes);
        let mut records = Vec::new();
        // Where the unread part of the buffer starts; drained once at the end.
        let mut start = 0;
        let result = loop {
            let unread = &self.buffer[start..];
            let scanned = &unread[..unread.len().min(MAX_PREFIX + 1)];
            let Some(newline) = scanned.iter().position(|&b| b == b'\n') else {
                if scanned.len() > MAX_PREFIX {
                    break Err(too_long(scanned));
                }
                break Ok(());
            };
            let prefix = &unread[..newline];
            let header = match std::str::from_utf8(prefix) {
                Ok(header) => header,
                Err(_) => break Err(RecordIoError::NotText(prefix.to_vec())),
            };
            let Ok(length) = header.trim().parse::<usize>() else {
                break Err(RecordIoError::BadLength(header.to_owned()));
            };
            // A length past what the buffer could ever hold is no length.
            let Some(end) = (newline + 1).checked_add(length) else {
                break Err(RecordIoError::BadLength(header.to_owned()));
            };
            if unread.len() < end {
                break Ok(());
            }
            records.push(unread[newline + 1..end].to_vec());
            start += end;
        };
        self.buffer.drain(..start);
        result.map(|()| records)
    }
}

fn too_long(prefix: &[u8]) -> RecordIoError {
    RecordIoError::PrefixTooLong(String::from_utf8_lossy(&prefix[..MAX_PREFIX]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_framed_and_split_across_arbitrary_chunks() {
        let stream = [record(b"hello"), record(b""), record(b"{\"a\":1}")].concat();
        let mut reader = RecordReader::default();
        let mut got = Vec::new();
        for chunk in stream.chunks(3) {
            got.extend(reader.push(chunk).unwrap());
        }
        assert_eq!(got, [b"hello".to_vec(), vec![], b"{\"a\":1}".to_vec()]);
        assert_eq!(
            RecordReader::default().push(b"x1\n"),
            Err(RecordIoError::BadLength("x1".into()))
        );
    }

    #[test]
    fn a_length_past_the_address_space_is_an_error_not_an_overflow() {
        // Found by the fuzz targets: `newline + 1 + length` overflowed, a
        // panic in debug builds and, wrapped, a slice-bound panic in release.
        for header in ["18446744073709551615", "18446744073709551600"] {
            assert_eq!(
                RecordReader::default().push(format!("{header}\nxx").as_bytes()),
                Err(RecordIoError::BadLength(header.into()))
            );
        }
    }

    #[test]
    fn a_huge_length_is_not_reserved_and_waits_for_its_bytes() {
        let mut reader = RecordReader::default();
        assert_eq!(reader.push(b"99999999999\n"), Ok(vec![]));
        assert_eq!(reader.push(b"abc"), Ok(vec![]));
        assert!(
            reader.buffer.capacity() < 1024,
            "{}",
            reader.buffer.capacity()
        );
    }

    #[test]
    fn a_prefix_without_a_newline_is_not_buffered_without_end() {
        let mut reader = RecordReader::default();
        let digits = [b'1'; MAX_PREFIX];
        assert_eq!(reader.push(&digits), Ok(vec![]));
        assert_eq!(
            reader.push(b"1"),
            Err(RecordIoError::PrefixTooLong("1".repeat(MAX_PREFIX)))
        );
        // The same error, however the prefix arrives.
        let mut long = vec![b' '; MAX_PREFIX + 1];
        long.push(b'\n');
        let whole = RecordReader::default().push(&long);
        let mut reader = RecordReader::default();
        let chunked: Vec<_> = long.chunks(7).map(|c| reader.push(c)).collect();
        assert_eq!(
            whole,
            Err(RecordIoError::PrefixTooLong(" ".repeat(MAX_PREFIX)))
        );
        assert!(chunked.contains(&whole));
    }

    #[test]
    fn many_records_in_one_push_take_linear_time() {
        // One drain per push, not per record: 2 MiB of empty records once
        // took a quadratic number of byte moves (a terabyte of them).
        let stream = b"0\n".repeat(1024 * 1024);
        let started = std::time::Instant::now();
        let records = RecordReader::default().push(&stream).unwrap();
        assert_eq!(records.len(), 1024 * 1024);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
