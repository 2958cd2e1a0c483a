//! The write-ahead log of one remote-write endpoint: every batch is appended here before it is
//! sent, and the send position advances only when the receiver has accepted (or permanently
//! rejected) it, so nothing accepted by the agent is lost to a receiver outage, a restart or
//! `kill -9`.
//!
//! Layout: a directory of segments `00000001.seg`, `00000002.seg`, … (a new one past
//! `SEGMENT_BYTES`) and a `position` file (`<segment> <offset>`, replaced atomically) naming the
//! first record not yet delivered. A record is
//!
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC-32 of the rest (samples, newest timestamp, payload)
//! u32 LE  number of samples
//! i64 LE  newest sample timestamp, ms
//! [u8]    payload: the request body (protobuf WriteRequest, snappy-compressed)
//! ```
//!
//! On open, the records from the position on are checked; at the first one that is torn or
//! fails its checksum the segment is truncated there (logged) and everything before it is kept.
//! Bounds: when the log outgrows `max_bytes`, or its oldest segment is older than `max_age`,
//! whole oldest segments are dropped and their samples counted. Durability: `sync = "batch"`
//! fsyncs after every append, `"interval"` (the default) leaves it to a periodic [`Wal::sync`]
//! (at most that much is lost on power failure; a process crash loses nothing written).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 8 << 20;
const HEADER: usize = 20;
/// A record larger than this is treated as corruption.
const MAX_RECORD: usize = 64 << 20;

/// A position in the log: segment number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// Segment number.
    pub segment: u64,
    /// Byte offset in the segment.
    pub offset: u64,
}

/// One record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Where it starts.
    pub at: Position,
    /// Where the next one starts.
    pub next: Position,
    /// Samples in it.
    pub samples: u32,
    /// Its newest sample timestamp (ms).
    pub newest_ms: i64,
    /// The request body.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct SegmentInfo {
    number: u64,
    bytes: u64,
    samples: u64,
    newest_ms: i64,
}

/// What opening the log found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Undelivered records found (to be replayed).
    pub records: u64,
    /// Their samples.
    pub samples: u64,
    /// Bytes cut off a torn or corrupt tail.
    pub truncated_bytes: u64,
}

/// The log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segments: VecDeque<SegmentInfo>,
    writer: File,
    position: Position,
    /// Samples of the records of the position's segment before the position (delivered).
    delivered_in_segment: u64,
    max_bytes: u64,
    sync_each_append: bool,
    dirty: bool,
    /// fsyncs of appended records so far.
    syncs: u64,
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.seg"))
}

fn checksum(samples: u32, newest_ms: i64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&samples.to_le_bytes());
    hasher.update(&newest_ms.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Reads the record at `offset` of `file`: `Ok(None)` at a clean end, `Err` for a torn or
/// corrupt record.
fn read_record(file: &mut File, segment: u64, offset: u64) -> io::Result<Option<Record>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut header = [0u8; HEADER];
    let mut filled = 0;
    while filled < HEADER {
        match file.read(&mut header[filled..])? {
            0 if filled == 0 => return Ok(None),
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "torn record header",
                ));
            }
            n => filled += n,
        }
    }
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let samples = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    let newest_ms = i64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    if len > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "record length out of range",
        ));
    }
    let mut payload = vec![0; len];
    file.read_exact(&mut payload)
        .map_err(|_| io::Error::new(io::ErrorKind::UnexpectedEof, "torn record payload"))?;
    if checksum(samples, newest_ms, &payload) != crc {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "checksum mismatch",
        ));
    }
    Ok(Some(Record {
        at: Position { segment, offset },
        next: Position {
            segment,
            offset: offset + (HEADER + len) as u64,
        },
        samples,
        newest_ms,
        payload,
    }))
}

impl Wal {
    /// Opens (or creates) the log in `dir`, checks the undelivered part and cuts a corrupt tail.
    pub fn open(dir: &Path, max_bytes: u64, sync_each_append: bool) -> io::Result<(Wal, Recovery)> {
        std::fs::create_dir_all(dir)?;
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        let mut position = std::fs::read_to_string(dir.join("position"))
            .ok()
            .and_then(|t| {
                let mut it = t.split_whitespace().map(|n| n.parse::<u64>());
                Some(Position {
                    segment: it.next()?.ok()?,
                    offset: it.next()?.ok()?,
                })
            })
            .unwrap_or_default();
        // Segments wholly before the position were delivered.
        for n in numbers.iter().filter(|n| **n < position.segment) {
            let _ = std::fs::remove_file(segment_path(dir, *n));
        }
        numbers.retain(|n| *n >= position.segment);
        if numbers.is_empty() {
            numbers.push(position.segment.max(1));
            File::create(segment_path(dir, numbers[0]))?;
        }
        if position.segment < numbers[0] {
            position = Position {
                segment: numbers[0],
                offset: 0,
            };
        }
        let mut recovery = Recovery::default();
        let mut delivered_in_segment = 0;
        let mut segments = VecDeque::new();
        for (i, &number) in numbers.iter().enumerate() {
            let path = segment_path(dir, number);
            let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
            let length = file.metadata()?.len();
            let mut info = SegmentInfo {
                number,
                bytes: 0,
                samples: 0,
                newest_ms: 0,
            };
            let mut offset = 0;
            let start = if number == position.segment {
                position.offset
            } else {
                0
            };
            loop {
                match read_record(&mut file, number, offset) {
                    Ok(Some(record)) => {
                        if offset >= start {
                            recovery.records += 1;
                            recovery.samples += u64::from(record.samples);
                        } else {
                            delivered_in_segment += u64::from(record.samples);
                        }
                        info.samples += u64::from(record.samples);
                        info.newest_ms = info.newest_ms.max(record.newest_ms);
                        offset = record.next.offset;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        recovery.truncated_bytes += length - offset;
                        tracing::warn!(segment = %path.display(), offset, dropped_bytes = length - offset, error = %e, "write-ahead log: corrupt or torn record; truncating the rest of the segment");
                        file.set_len(offset)?;
                        file.sync_all()?;
                        // Later segments cannot be trusted to follow on: drop them too.
                        for later in &numbers[i + 1..] {
                            if let Ok(m) = std::fs::metadata(segment_path(dir, *later)) {
                                recovery.truncated_bytes += m.len();
                            }
                            let _ = std::fs::remove_file(segment_path(dir, *later));
                        }
                        break;
                    }
                }
            }
            info.bytes = offset;
            segments.push_back(info);
            if recovery.truncated_bytes > 0 {
                break;
            }
        }
        if position.segment == segments[0].number && position.offset > segments[0].bytes {
            position.offset = segments[0].bytes;
        }
        let last = segments.back().expect("one segment").number;
        let writer = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, last))?;
        let wal = Wal {
            dir: dir.to_path_buf(),
            segments,
            writer,
            position,
            delivered_in_segment,
            max_bytes,
            sync_each_append,
            dirty: false,
            syncs: 0,
        };
        Ok((wal, recovery))
    }

    /// Appends a record. Returns the samples of segments dropped to stay within `max_bytes`.
    pub fn append(&mut self, samples: u32, newest_ms: i64, payload: &[u8]) -> io::Result<u64> {
        if self.segments.back().expect("one segment").bytes >= SEGMENT_BYTES {
            self.roll()?;
        }
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(samples, newest_ms, payload).to_le_bytes());
        record.extend_from_slice(&samples.to_le_bytes());
        record.extend_from_slice(&newest_ms.to_le_bytes());
        record.extend_from_slice(payload);
        self.writer.write_all(&record)?;
        let last = self.segments.back_mut().expect("one segment");
        last.bytes += record.len() as u64;
        last.samples += u64::from(samples);
        last.newest_ms = last.newest_ms.max(newest_ms);
        if self.sync_each_append {
            self.writer.sync_data()?;
            self.syncs += 1;
        } else {
            self.dirty = true;
        }
        self.enforce_size()
    }

    /// Flushes appended records to disk (the `interval` durability policy calls this).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.writer.sync_data()?;
            self.dirty = false;
            self.syncs += 1;
        }
        Ok(())
    }

    /// How many times appended records were flushed to disk.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    fn roll(&mut self) -> io::Result<()> {
        self.writer.sync_data()?;
        let number = self.segments.back().expect("one segment").number + 1;
        let path = segment_path(&self.dir, number);
        self.writer = OpenOptions::new().create(true).append(true).open(&path)?;
        self.segments.push_back(SegmentInfo {
            number,
            bytes: 0,
            samples: 0,
            newest_ms: 0,
        });
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Drops whole oldest segments while the log is larger than `max_bytes`; returns the
    /// samples dropped.
    fn enforce_size(&mut self) -> io::Result<u64> {
        let mut dropped = 0;
        while self.segments.len() > 1 && self.bytes() > self.max_bytes {
            dropped += self.drop_oldest()?;
        }
        Ok(dropped)
    }

    /// Drops whole oldest segments whose newest sample is older than `cutoff_ms`; returns the
    /// samples dropped.
    pub fn drop_older_than(&mut self, cutoff_ms: i64) -> io::Result<u64> {
        let mut dropped = 0;
        while self.segments.len() > 1 && self.segments[0].newest_ms < cutoff_ms {
            dropped += self.drop_oldest()?;
        }
        Ok(dropped)
    }

    fn drop_oldest(&mut self) -> io::Result<u64> {
        let oldest = self.segments.pop_front().expect("more than one segment");
        let next = self.segments[0].number;
        // Segments before the position's are removed as soon as it moves on, so the oldest is
        // the position's segment or one after it.
        let undelivered = if self.position.segment == oldest.number {
            oldest.samples - self.delivered_in_segment
        } else {
            oldest.samples
        };
        if self.position.segment <= oldest.number {
            self.move_position(
                Position {
                    segment: next,
                    offset: 0,
                },
                0,
            )?;
        }
        std::fs::remove_file(segment_path(&self.dir, oldest.number))?;
        tracing::warn!(
            segment = oldest.number,
            samples = undelivered,
            "write-ahead log over its limits: dropped the oldest segment"
        );
        Ok(undelivered)
    }

    /// Reads undelivered records from the position on, until `max_samples` (at least one
    /// record).
    pub fn read_from_position(&self, max_samples: usize) -> io::Result<Vec<Record>> {
        let mut records = Vec::new();
        let mut total = 0usize;
        let mut at = self.position;
        let first = self.position.segment;
        for info in self.segments.iter().filter(|s| s.number >= first) {
            if info.number > at.segment {
                at = Position {
                    segment: info.number,
                    offset: 0,
                };
            }
            let mut file = File::open(segment_path(&self.dir, info.number))?;
            while at.offset < info.bytes {
                let Some(record) = read_record(&mut file, info.number, at.offset)? else {
                    break;
                };
                if !records.is_empty() && total + record.samples as usize > max_samples {
                    return Ok(records);
                }
                total += record.samples as usize;
                at = record.next;
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Marks `records` (read with [`Self::read_from_position`], in order) delivered: the
    /// position moves past the last one, persisted atomically, and wholly delivered segments are
    /// removed. Returns the samples that were still undelivered: records the log dropped
    /// meanwhile (over `max_size` or `max_age` while they were being sent) count as dropped, not
    /// twice, and the position never moves back.
    pub fn acknowledge(&mut self, records: &[Record]) -> io::Result<u64> {
        let Some(last) = records.last() else {
            return Ok(0);
        };
        if last.next <= self.position {
            return Ok(0);
        }
        let still_pending = records.iter().filter(|r| r.at >= self.position);
        let (mut acknowledged, mut in_last_segment) = (0, 0);
        for record in still_pending {
            acknowledged += u64::from(record.samples);
            if record.at.segment == last.next.segment {
                in_last_segment += u64::from(record.samples);
            }
        }
        let delivered_in_segment = if last.next.segment == self.position.segment {
            self.delivered_in_segment + in_last_segment
        } else {
            in_last_segment
        };
        self.move_position(last.next, delivered_in_segment)?;
        Ok(acknowledged)
    }

    /// Moves the position (persisted atomically) and removes the segments before it.
    fn move_position(&mut self, position: Position, delivered_in_segment: u64) -> io::Result<()> {
        self.position = position;
        self.delivered_in_segment = delivered_in_segment;
        let tmp = self.dir.join("position.tmp");
        std::fs::write(&tmp, format!("{} {}\n", position.segment, position.offset))?;
        std::fs::rename(&tmp, self.dir.join("position"))?;
        while self.segments.len() > 1 && self.segments[0].number < position.segment {
            let done = self.segments.pop_front().expect("checked");
            let _ = std::fs::remove_file(segment_path(&self.dir, done.number));
        }
        Ok(())
    }

    /// The first record not yet delivered.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Samples appended and not yet delivered (nor dropped).
    pub fn pending_samples(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.number >= self.position.segment)
            .map(|s| s.samples)
            .sum::<u64>()
            - self.delivered_in_segment
    }

    /// True when everything appended was delivered.
    pub fn is_drained(&self) -> bool {
        self.segments.iter().all(|s| {
            s.number < self.position.segment
                || (s.number == self.position.segment && s.bytes <= self.position.offset)
                || (s.number > self.position.segment && s.bytes == 0)
        })
    }

    /// The newest-sample timestamp of the oldest undelivered segment (ms), if anything is
    /// undelivered.
    pub fn oldest_unsent_ms(&self) -> Option<i64> {
        if self.is_drained() {
            return None;
        }
        self.segments
            .iter()
            .find(|s| s.number >= self.position.segment && s.bytes > 0)
            .map(|s| s.newest_ms)
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Wal, Recovery) {
        Wal::open(dir, 1 << 30, false).unwrap()
    }

    #[test]
    fn appends_reads_in_order_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, recovery) = open(dir.path());
        assert_eq!(recovery, Recovery::default());
        for i in 0..5u32 {
            wal.append(10, i64::from(i), format!("body{i}").as_bytes())
                .unwrap();
        }
        let records = wal.read_from_position(25).unwrap();
        assert_eq!(records.len(), 2, "stops before exceeding 25 samples");
        assert_eq!(records[0].payload, b"body0");
        assert_eq!(wal.acknowledge(&records).unwrap(), 20);
        assert_eq!(wal.pending_samples(), 30);
        drop(wal);
        let (wal, recovery) = open(dir.path());
        assert_eq!((recovery.records, recovery.samples), (3, 30));
        assert_eq!(wal.pending_samples(), 30);
        let records = wal.read_from_position(1000).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| r.payload.clone())
                .collect::<Vec<_>>(),
            [b"body2".to_vec(), b"body3".to_vec(), b"body4".to_vec()]
        );
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(dir.path());
        wal.append(1, 1, b"first").unwrap();
        wal.append(1, 2, b"second").unwrap();
        drop(wal);
        let segment = segment_path(dir.path(), 1);
        // A torn write: half a header.
        let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(&[7, 0, 0]).unwrap();
        drop(f);
        let (wal, recovery) = open(dir.path());
        assert_eq!(recovery.truncated_bytes, 3);
        assert_eq!(wal.read_from_position(100).unwrap().len(), 2);
        drop(wal);
        // A flipped byte in the last payload.
        let mut bytes = std::fs::read(&segment).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&segment, &bytes).unwrap();
        let (mut wal, recovery) = open(dir.path());
        assert_eq!(recovery.records, 1);
        assert_eq!(wal.read_from_position(100).unwrap()[0].payload, b"first");
        // Appending goes on after the cut.
        wal.append(1, 3, b"third").unwrap();
        assert_eq!(wal.read_from_position(100).unwrap().len(), 2);
    }

    #[test]
    fn size_and_age_limits_drop_whole_oldest_segments_and_count_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), SEGMENT_BYTES * 3, false).unwrap();
        let payload = vec![0u8; 1 << 20];
        let mut dropped = 0;
        for i in 0..40 {
            dropped += wal.append(100, i, &payload).unwrap();
        }
        assert!(wal.bytes() <= SEGMENT_BYTES * 3, "{}", wal.bytes());
        assert!(wal.segments() >= 2);
        assert!(dropped >= 1500, "dropped {dropped}");
        let first = wal.read_from_position(1).unwrap();
        assert!(first[0].newest_ms > 10, "the oldest records are gone");
        let before = wal.segments();
        assert!(wal.drop_older_than(i64::MAX).unwrap() > 0);
        assert_eq!(wal.segments(), 1);
        assert!(before > 1);
    }

    #[test]
    fn a_batch_dropped_while_in_flight_is_counted_once_and_the_position_never_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 1 << 30, false).unwrap();
        let payload = vec![0u8; 1 << 20];
        // Two full segments and the start of a third, timestamps 0.., 100 samples a record.
        for i in 0..17 {
            wal.append(100, i, &payload).unwrap();
        }
        assert_eq!(wal.segments(), 3);
        assert_eq!(wal.pending_samples(), 1700);
        // A sender reads the first two records and delivers them; then reads the next batch.
        let first = wal.read_from_position(200).unwrap();
        assert_eq!(wal.acknowledge(&first).unwrap(), 200);
        let in_flight = wal.read_from_position(200).unwrap();
        // While that batch is retried, max_age drops the first segment (the 8 records 0..8).
        let dropped = wal.drop_older_than(8).unwrap();
        assert_eq!(dropped, 600, "what was left of the first segment");
        assert_eq!(wal.pending_samples(), 900);
        // The in-flight batch is then delivered: nothing counted twice, no move back.
        let position = wal.position();
        assert_eq!(wal.acknowledge(&in_flight).unwrap(), 0);
        assert_eq!(wal.position(), position);
        assert_eq!(wal.pending_samples(), 900);
        // A batch across the dropped boundary counts only its records after the position.
        let rest = wal.read_from_position(10_000).unwrap();
        assert_eq!(wal.acknowledge(&rest).unwrap(), 900);
        assert_eq!(wal.pending_samples(), 0);
        assert!(wal.is_drained());
        drop(wal);
        let (wal, recovery) = Wal::open(dir.path(), 1 << 30, false).unwrap();
        assert_eq!((recovery.records, wal.pending_samples()), (0, 0));
    }
}
