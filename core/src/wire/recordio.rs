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
}

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
    /// malformed length prefix.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, RecordIoError> {
        self.buffer.extend_from_slice(bytes);
        let mut records = Vec::new();
        while let Some(newline) = self.buffer.iter().position(|&b| b == b'\n') {
            let prefix = &self.buffer[..newline];
            let header =
                std::str::from_utf8(prefix).map_err(|_| RecordIoError::NotText(prefix.to_vec()))?;
            let length: usize = header
                .trim()
                .parse()
                .map_err(|_| RecordIoError::BadLength(header.to_owned()))?;
            if self.buffer.len() < newline + 1 + length {
                break;
            }
            records.push(self.buffer[newline + 1..newline + 1 + length].to_vec());
            self.buffer.drain(..newline + 1 + length);
        }
        Ok(records)
    }
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
}
