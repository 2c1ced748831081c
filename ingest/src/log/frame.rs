//! The on-disk record format of the embedded log, and the scan that recovers a file.
//!
//! A frame is `len: u32 LE | crc32(body): u32 LE | body` with
//! `body = offset: u64 LE | key_len: u16 LE | key | value`. The offset inside the checksum means a
//! frame that is lost, repeated or moved is detected, not read as a different record.
//! This module is pure (bytes in, records out) so the property test can throw any damage at it.

use std::io::Read;

pub(crate) const HEADER: usize = 8;
/// The largest frame body the log accepts (16 MiB).
pub const MAX_RECORD: usize = 16 << 20;
/// The log writer never writes more than this in one group, so a crash can only tear the last
/// `MAX_GROUP_BYTES` of a file. Damage followed by more than that is damage in the middle.
pub(crate) const MAX_GROUP_BYTES: usize = 32 << 20;
const TORN_WINDOW: u64 = (MAX_GROUP_BYTES + MAX_RECORD + HEADER) as u64;
const CHUNK: usize = 4 << 20;

/// Bytes of the body before the key: the offset and the key length.
const BODY_PREFIX: usize = 10;

pub(crate) fn encoded_len(key: &str, value: &[u8]) -> usize {
    HEADER + BODY_PREFIX + key.len() + value.len()
}

pub(crate) fn encode(buf: &mut Vec<u8>, offset: u64, key: &str, value: &[u8]) {
    let body_len = BODY_PREFIX + key.len() + value.len();
    let start = buf.len();
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&(key.len() as u16).to_le_bytes());
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(value);
    let crc = crc32fast::hash(&buf[start + HEADER..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What the bytes at some position hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// A whole, intact frame of this many bytes.
    Complete(usize),
    /// The start of a plausible frame that needs more bytes.
    Incomplete,
    /// Not a frame: impossible length, bad checksum or bad key.
    Invalid(&'static str),
}

pub(crate) fn check(bytes: &[u8]) -> Check {
    let Some(header) = bytes.get(..HEADER) else {
        return Check::Incomplete;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(BODY_PREFIX..=MAX_RECORD).contains(&len) {
        return Check::Invalid("impossible frame length");
    }
    let Some(body) = bytes.get(HEADER..HEADER + len) else {
        return Check::Incomplete;
    };
    if crc32fast::hash(body) != crc {
        return Check::Invalid("checksum mismatch");
    }
    let key_len = u16::from_le_bytes([body[8], body[9]]) as usize;
    match body
        .get(BODY_PREFIX..BODY_PREFIX + key_len)
        .map(std::str::from_utf8)
    {
        Some(Ok(_)) => Check::Complete(HEADER + len),
        _ => Check::Invalid("key is not valid UTF-8 or overruns the frame"),
    }
}

/// The offset recorded in an intact frame.
pub(crate) fn offset_of(frame: &[u8]) -> u64 {
    u64::from_le_bytes(
        frame[HEADER..HEADER + 8]
            .try_into()
            .expect("an intact frame has an offset"),
    )
}

/// A decoded record: its offset, key and value.
pub(crate) struct Decoded {
    pub offset: u64,
    pub key: String,
    pub value: Vec<u8>,
}

/// Decodes the intact frame at the start of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Option<Decoded> {
    let Check::Complete(len) = check(bytes) else {
        return None;
    };
    let key_len = u16::from_le_bytes([bytes[HEADER + 8], bytes[HEADER + 9]]) as usize;
    let key_start = HEADER + BODY_PREFIX;
    let key = std::str::from_utf8(&bytes[key_start..key_start + key_len])
        .ok()?
        .to_string();
    Some(Decoded {
        offset: offset_of(bytes),
        key,
        value: bytes[key_start + key_len..len].to_vec(),
    })
}

/// What a scan of a whole file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// How many intact records the file holds.
    pub records: u64,
    /// Bytes up to the end of the last intact record.
    pub valid_len: u64,
    /// `(offset, position)` of every `index_every`-th record, starting with offset 0.
    pub index: Vec<(u64, u64)>,
    /// Bytes of a torn tail after `valid_len` (what a crash during a write leaves; never acknowledged).
    pub torn_bytes: u64,
}

#[derive(Debug)]
pub(crate) enum ScanError {
    Io(std::io::Error),
    /// Damage with intact data after it: not a torn write but a damaged file.
    Corrupt {
        position: u64,
        reason: &'static str,
    },
}

/// Scans a log file of `total_len` bytes front to back in bounded memory.
pub(crate) fn scan(
    mut reader: impl Read,
    total_len: u64,
    index_every: u64,
) -> Result<Scanned, ScanError> {
    let mut found = Scanned::default();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK.min(total_len as usize));
    let mut buf_pos = 0u64; // file position of buf[0]
    let mut at = 0usize; // position in buf
    let mut eof = false;
    loop {
        if at == buf.len() && eof {
            found.valid_len = buf_pos + at as u64;
            return Ok(found);
        }
        match check(&buf[at..]) {
            Check::Complete(_) if offset_of(&buf[at..]) != found.records => {
                // An intact frame in the wrong place: frames were lost, repeated or moved.
                return Err(ScanError::Corrupt {
                    position: buf_pos + at as u64,
                    reason: "record out of sequence",
                });
            }
            Check::Complete(len) => {
                if found.records.is_multiple_of(index_every) {
                    found.index.push((found.records, buf_pos + at as u64));
                }
                found.records += 1;
                at += len;
            }
            Check::Incomplete if !eof => {
                buf.drain(..at);
                buf_pos += at as u64;
                at = 0;
                let before = buf.len();
                let left = total_len.saturating_sub(buf_pos + before as u64) as usize;
                buf.resize(before + CHUNK.min(left).max(1), 0);
                let read = read_fully(&mut reader, &mut buf[before..]).map_err(ScanError::Io)?;
                buf.truncate(before + read);
                eof = read == 0 || buf_pos + buf.len() as u64 >= total_len;
            }
            Check::Incomplete => {
                let position = buf_pos + at as u64;
                found.valid_len = position;
                found.torn_bytes = total_len - position;
                return Ok(found);
            }
            Check::Invalid(reason) => {
                let position = buf_pos + at as u64;
                let remaining = total_len - position;
                if remaining > TORN_WINDOW {
                    return Err(ScanError::Corrupt { position, reason });
                }
                // Within the window a crash may have left anything; intact frames after the damage
                // mean the file was damaged after it was written.
                buf.drain(..at);
                let mut rest = Vec::new();
                reader.read_to_end(&mut rest).map_err(ScanError::Io)?;
                buf.extend_from_slice(&rest);
                if (1..buf.len()).any(|i| matches!(check(&buf[i..]), Check::Complete(_))) {
                    return Err(ScanError::Corrupt { position, reason });
                }
                found.valid_len = position;
                found.torn_bytes = remaining;
                return Ok(found);
            }
        }
    }
}

fn read_fully(reader: &mut impl Read, mut buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    //! Property tests: whatever damage is done to a file, the scan never panics and never yields a
    //! record that was not written, at the offset it was written.
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::io::Cursor;

    fn records(rng: &mut StdRng) -> Vec<(String, Vec<u8>)> {
        (0..rng.random_range(0..40))
            .map(|i| {
                let value: Vec<u8> = (0..rng.random_range(0..600))
                    .map(|_| rng.random())
                    .collect();
                (format!("key-{i}"), value)
            })
            .collect()
    }

    fn file(records: &[(String, Vec<u8>)]) -> (Vec<u8>, Vec<u64>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for (offset, (k, v)) in records.iter().enumerate() {
            starts.push(buf.len() as u64);
            encode(&mut buf, offset as u64, k, v);
        }
        (buf, starts)
    }

    /// The record at the start of `bytes` and the bytes its frame takes.
    fn next(bytes: &[u8]) -> Option<(Decoded, usize)> {
        match check(bytes) {
            Check::Complete(len) => Some((decode(bytes)?, len)),
            _ => None,
        }
    }

    /// Everything the scan accepted decodes to exactly the records written, in order.
    fn assert_prefix(bytes: &[u8], scanned: &Scanned, written: &[(String, Vec<u8>)]) {
        let mut at = 0usize;
        for (offset, expected) in written.iter().enumerate().take(scanned.records as usize) {
            let (record, len) =
                next(&bytes[at..]).unwrap_or_else(|| panic!("record {offset} unreadable"));
            assert_eq!(
                (record.offset, &record.key, &record.value),
                (offset as u64, &expected.0, &expected.1),
                "record {offset} differs"
            );
            at += len;
        }
        assert_eq!(at as u64, scanned.valid_len);
    }

    #[test]
    fn every_truncation_keeps_exactly_the_whole_records() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let written = records(&mut rng);
            let (bytes, starts) = file(&written);
            let cut = rng.random_range(0..=bytes.len());
            let scanned = scan(Cursor::new(&bytes[..cut]), cut as u64, 4)
                .expect("a truncation is a torn tail");
            let whole = starts
                .iter()
                .zip(starts.iter().skip(1).chain([&(bytes.len() as u64)]))
                .filter(|(_, end)| **end <= cut as u64)
                .count();
            assert_eq!(scanned.records as usize, whole, "cut at {cut}");
            assert_eq!(scanned.valid_len + scanned.torn_bytes, cut as u64);
            assert_prefix(&bytes, &scanned, &written);
            assert!(
                scanned.index.iter().all(|(o, p)| starts[*o as usize] == *p),
                "index points at record starts"
            );
        }
    }

    #[test]
    fn random_damage_never_panics_and_never_yields_a_wrong_record() {
        let mut rng = StdRng::seed_from_u64(2);
        for round in 0..2000 {
            let written = records(&mut rng);
            let (mut bytes, _) = file(&written);
            match rng.random_range(0..4) {
                0 if !bytes.is_empty() => {
                    for _ in 0..rng.random_range(1..4) {
                        let i = rng.random_range(0..bytes.len());
                        bytes[i] ^= rng.random_range(1..=255u8);
                    }
                }
                1 => {
                    let at = rng.random_range(0..=bytes.len());
                    let garbage: Vec<u8> =
                        (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, garbage);
                }
                2 => {
                    let at = rng.random_range(0..=bytes.len());
                    bytes.truncate(at);
                    bytes.extend((0..rng.random_range(0..32)).map(|_| 0u8));
                }
                _ => {
                    let len = bytes.len();
                    if len > 0 {
                        let at = rng.random_range(0..len);
                        bytes.drain(at..rng.random_range(at..=len));
                    }
                }
            }
            match scan(Cursor::new(&bytes), bytes.len() as u64, 3) {
                Ok(scanned) => {
                    // Only records that were written, in the order they were written.
                    let mut at = 0usize;
                    for offset in 0..scanned.records as usize {
                        let (record, len) = next(&bytes[at..]).expect("accepted records decode");
                        assert_eq!(record.offset, offset as u64, "round {round}");
                        assert_eq!(
                            Some(&(record.key, record.value)),
                            written.get(offset),
                            "round {round}: wrong record at {offset}"
                        );
                        at += len;
                    }
                }
                Err(ScanError::Corrupt { position, .. }) => assert!(position <= bytes.len() as u64),
                Err(ScanError::Io(e)) => panic!("no i/o error from memory: {e}"),
            }
        }
    }

    #[test]
    fn damage_followed_by_intact_records_is_corruption() {
        let written: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("k{i}"), vec![i as u8; 50]))
            .collect();
        let (mut bytes, starts) = file(&written);
        bytes[starts[1] as usize + HEADER + 3] ^= 0x55;
        assert!(matches!(
            scan(Cursor::new(&bytes), bytes.len() as u64, 1),
            Err(ScanError::Corrupt { position, reason: "checksum mismatch" }) if position == starts[1]
        ));
        // A whole record cut out of the middle leaves intact frames, but out of sequence.
        let (mut bytes, starts) = file(&written);
        bytes.drain(starts[2] as usize..starts[3] as usize);
        assert!(matches!(
            scan(Cursor::new(&bytes), bytes.len() as u64, 1),
            Err(ScanError::Corrupt {
                reason: "record out of sequence",
                ..
            })
        ));
        // The same damage in the last record is a torn tail.
        let (mut bytes, starts) = file(&written);
        bytes[starts[4] as usize + HEADER + 3] ^= 0x55;
        let scanned = scan(Cursor::new(&bytes), bytes.len() as u64, 1).unwrap();
        assert_eq!((scanned.records, scanned.valid_len), (4, starts[4]));
    }
}
