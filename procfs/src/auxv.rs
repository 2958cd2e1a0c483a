//! `/proc/self/auxv`: the ELF auxiliary vector the kernel gave the reading process, whose
//! `AT_PAGESZ` entry is the system's page size (what Go's `os.Getpagesize()` returns).
//!
//! A WebAssembly plugin cannot ask the host's kernel for its page size; through the proc root it
//! can read the auxiliary vector of the sonde process, which is the same system's.

use sonde_sdk::{Host, Root};

/// The page size assumed when the auxiliary vector cannot be read or understood (x86's).
pub const DEFAULT_PAGE_SIZE: u64 = 4096;

/// The auxiliary vector key of the page size.
const AT_PAGESZ: u64 = 6;

/// The page size from `/proc/self/auxv`, or [`DEFAULT_PAGE_SIZE`] when it is unavailable.
pub fn page_size(host: &Host) -> u64 {
    host.read(Root::Proc, "self/auxv")
        .ok()
        .and_then(|bytes| parse_page_size(&bytes))
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

/// Finds `AT_PAGESZ` in a little-endian auxiliary vector of 64-bit or else 32-bit words (pairs of
/// key and value, ending with key 0). Only a power of two of at least 4 KiB is accepted, so a
/// vector of the other width is not misread.
pub fn parse_page_size(bytes: &[u8]) -> Option<u64> {
    find(bytes, 8).or_else(|| find(bytes, 4))
}

fn find(bytes: &[u8], width: usize) -> Option<u64> {
    let word = |chunk: &[u8]| {
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(chunk);
        u64::from_le_bytes(buf)
    };
    bytes
        .chunks_exact(2 * width)
        .map(|pair| (word(&pair[..width]), word(&pair[width..])))
        .take_while(|&(key, _)| key != 0)
        .find(|&(key, _)| key == AT_PAGESZ)
        .map(|(_, value)| value)
        .filter(|size| size.is_power_of_two() && *size >= 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(width: usize, pairs: &[(u64, u64)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|&(k, v)| [k, v])
            .flat_map(|w| w.to_le_bytes()[..width].to_vec())
            .collect()
    }

    #[test]
    fn finds_the_page_size() {
        let v64 = vector(
            8,
            &[(33, 0x7fff_0000_1000), (16, 0xbfebfbff), (6, 65536), (0, 0)],
        );
        assert_eq!(parse_page_size(&v64), Some(65536));
        let v32 = vector(4, &[(33, 0xffff_e000), (6, 4096), (17, 100), (0, 0)]);
        assert_eq!(parse_page_size(&v32), Some(4096));
        assert_eq!(parse_page_size(&vector(8, &[(0, 0), (6, 4096)])), None);
        assert_eq!(parse_page_size(&vector(8, &[(6, 1000), (0, 0)])), None);
        assert_eq!(parse_page_size(b""), None);
    }

    #[test]
    fn reads_this_process_auxv() {
        let host = sonde_sdk::testing::Fixture::new()
            .root(Root::Proc, "/proc")
            .host();
        let size = page_size(&host);
        assert!(size.is_power_of_two() && size >= 4096, "{size}");
    }
}
