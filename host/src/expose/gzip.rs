//! gzip for `/metrics`, with one deflate compressor kept from one scrape to the next.
//!
//! A fresh compressor allocates and zeroes ~300 KB of tables (its dictionary and hash chains)
//! and faults them in again at every scrape once the allocator has returned them; at a scrape a
//! second that was a good part of a scrape's cost. The kept one is reset instead. Scrapes that
//! overlap each take their own, and the one put back last is kept.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::sync::Mutex;

/// The compressor the last scrape used.
static SPARE: Mutex<Option<Compress>> = Mutex::new(None);

/// The gzip member header: no name, no time, fastest compression (XFL 4), OS unknown — what
/// `flate2::write::GzEncoder` with `Compression::fast()` writes.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];

/// `data` as one gzip member, compressed at the fastest level (as node_exporter's handler does).
pub fn encode(data: &[u8]) -> Vec<u8> {
    let taken = SPARE.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut compress = match taken {
        Some(mut kept) => {
            kept.reset();
            kept
        }
        None => Compress::new(Compression::fast(), false),
    };
    // Text exposition compresses ~6–10×: a quarter is room enough for one pass.
    let mut out = Vec::with_capacity(HEADER.len() + data.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    loop {
        let consumed = compress.total_in() as usize;
        match compress.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(4096)),
            // Compressing into memory cannot fail; should it, the body is left empty rather
            // than corrupt.
            Err(_) => return Vec::new(),
        }
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    *SPARE.lock().unwrap_or_else(|e| e.into_inner()) = Some(compress);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decode(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_kept_compressor_gives_what_a_fresh_one_gives() {
        let text: Vec<u8> = (0..20_000)
            .map(|i| format!("node_cpu_seconds_total{{cpu=\"{i}\",mode=\"idle\"}} {i}.5\n"))
            .collect::<String>()
            .into_bytes();
        let first = encode(&text);
        let second = encode(&text);
        assert_eq!(first, second);
        assert_eq!(decode(&first), text);
        assert!(first.len() < text.len() / 4, "{} bytes", first.len());
        // The same bytes as flate2's own encoder.
        let mut reference = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut reference, &text).unwrap();
        assert_eq!(decode(&reference.finish().unwrap()), decode(&first));
    }

    #[test]
    fn empty_and_incompressible_bodies() {
        assert_eq!(decode(&encode(b"")), b"");
        // Bytes that do not compress need more room than the first guess.
        let mut noise = Vec::new();
        let mut x: u32 = 1;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        assert_eq!(decode(&encode(&noise)), noise);
    }
}
