//! Keeping the agent's resident memory small: it runs on every host of a fleet.

/// glibc gives every thread that allocates its own malloc arena, and plugin collections run on a
/// pool of threads: without a limit the agent's resident memory grows by an arena per thread
/// (measured: 42 MB instead of 24 MB at a 1 s interval). One arena is enough for an agent that
/// allocates little, and mostly on one thread at a time: with all built-ins and one remote-write
/// endpoint it holds ~0.55 MB less than two (anonymous memory 4.1–4.3 MB against 4.6–5.0, three
/// alternating runs), for no measurable CPU (690 against 740 ms over 150 s, side by side). An
/// explicit `MALLOC_ARENA_MAX` in the environment wins.
///
/// It also fixes glibc's mmap threshold at 1 MiB: by default a freed large block raises the
/// threshold to its size (up to 32 MiB), so the next large blocks come from the heap and stay
/// there after they are freed. A plugin's refused 20 MB output then kept ~75 MB resident; with
/// the threshold fixed, every block of 1 MiB or more is mapped on its own and unmapped when
/// freed. The agent's steady allocations are far smaller.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only adjusts allocator parameters; called before any thread starts.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
            if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}

/// Maps file-backed pages (the binary's code, the compiled plugins) only as they are used.
///
/// By default the kernel maps up to 64 KiB of already cached neighbours with every page fault on
/// a file mapping ("fault-around"); a long-lived agent runs a small part of its code, so
/// `MADV_RANDOM` turns that off for the mappings present now.
pub fn map_files_on_demand() {
    advise_file_mappings(libc::MADV_RANDOM);
}

/// Gives back the file-backed pages touched only while starting (parsing the config, setting up
/// the engine, loading the compiled plugins, the first collections): `MADV_PAGEOUT` reclaims the
/// pages no other process maps, and those the agent keeps using come back on their next use.
/// Nothing is lost: clean file pages are re-read from the file, private and dirty pages are left
/// alone. Measured: steady RSS 25.2 MB → 16.7 MB with all built-ins and one remote-write
/// endpoint. A kernel without `MADV_PAGEOUT` (before 5.4) ignores it.
///
/// It also hands the heap that start-up freed back to the kernel (`malloc_trim`): where a
/// plugin had to be compiled in the agent itself (the compile cache was cold and the child
/// process that compiles, see [`crate::wasm::compile_cache`], failed), Cranelift leaves megabytes of
/// freed memory in malloc's arenas, which glibc would otherwise keep for the life of the agent.
pub fn release_startup_pages() {
    advise_file_mappings(libc::MADV_PAGEOUT);
    unmap_unmodified_file_pages();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of malloc's arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    tracing::debug!("released start-up pages");
}

/// How often [`release_unused_pages`] runs after start-up.
pub const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Unmaps again the file pages the agent mapped since the last release: pages of a code path
/// taken once (the first scrape, a config reload, a failing receiver's retries) leave the
/// agent's resident set, and what each cycle uses faults back in from the page cache (a minor
/// fault a page, ~2,000 pages with all built-ins: about a millisecond every
/// [`RELEASE_EVERY`]).
pub fn release_unused_pages() {
    unmap_unmodified_file_pages();
    tracing::debug!("released unused file pages");
}

/// Unmaps the pages of read-only file mappings (the binary's code and constants, the compiled
/// plugins' code) that hold the file's own contents, with `MADV_DONTNEED`: they stay in the page
/// cache, and a later access maps them again. Where `MADV_PAGEOUT` cannot reclaim a page — a
/// page cache of large folios (ext4 since Linux 6.16) is not split for it, and on this VM it
/// left 18 MB of 18.3 resident — this still takes it out of the agent's resident set.
///
/// Only pages that `/proc/self/pagemap` shows as file pages are unmapped: a page of a read-only
/// mapping that was written before it was made read-only (relocations, RELRO) is a private copy,
/// which `MADV_DONTNEED` would replace with the file's original bytes.
fn unmap_unmodified_file_pages() {
    use std::os::unix::fs::FileExt;
    let (Ok(maps), Ok(pagemap)) = (
        std::fs::read_to_string("/proc/self/maps"),
        std::fs::File::open("/proc/self/pagemap"),
    ) else {
        return;
    };
    let page = rustix::param::page_size();
    let mut entries = Vec::new();
    for (start, end) in read_only_file_mappings(&maps) {
        let pages = (end - start) / page;
        entries.resize(pages * 8, 0u8);
        if pagemap
            .read_exact_at(&mut entries, (start / page * 8) as u64)
            .is_err()
        {
            continue;
        }
        let flags = entries
            .chunks_exact(8)
            .map(|e| u64::from_ne_bytes(e.try_into().unwrap()));
        for (first, count) in unmodified_file_pages(flags) {
            // SAFETY: the range is part of a read-only private file mapping whose pages hold the
            // file's contents (no private copies): dropping them loses nothing, and the next
            // access maps the same bytes from the file again.
            unsafe {
                libc::madvise(
                    (start + first * page) as *mut libc::c_void,
                    count * page,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }
}

/// Runs of pages (first index, count) that are present and file pages, from their
/// `/proc/<pid>/pagemap` entries (bit 63: present; bit 61: a file page or shared anonymous).
fn unmodified_file_pages(entries: impl Iterator<Item = u64>) -> Vec<(usize, usize)> {
    const PRESENT: u64 = 1 << 63;
    const FILE: u64 = 1 << 61;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, entry) in entries.enumerate() {
        if entry & (PRESENT | FILE) != PRESENT | FILE {
            continue;
        }
        match runs.last_mut() {
            Some((first, count)) if *first + *count == i => *count += 1,
            _ => runs.push((i, 1)),
        }
    }
    runs
}

/// The private file mappings without write permission in a `/proc/<pid>/maps` text.
fn read_only_file_mappings(maps: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    maps.lines().filter_map(|line| {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let perms = fields.next()?;
        let inode = fields.nth(2)?;
        if inode == "0" || perms.as_bytes().get(1) != Some(&b'-') || !perms.ends_with('p') {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        Some((
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        ))
    })
}

/// Applies `advice` to every file-backed mapping of this process.
fn advise_file_mappings(advice: libc::c_int) {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, end) in file_mappings(&maps) {
        // SAFETY: MADV_RANDOM and MADV_PAGEOUT are paging hints on existing mappings of this
        // process; they change no contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, advice);
        }
    }
}

/// The address ranges of the file-backed mappings listed in a `/proc/<pid>/maps` text.
fn file_mappings(maps: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    maps.lines().filter_map(|line| {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let inode = fields.nth(3)?;
        if inode == "0" {
            return None; // anonymous memory, the heap, stacks
        }
        let (start, end) = range.split_once('-')?;
        Some((
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_backed_mappings_are_advised() {
        let maps = "\
55d45c501000-55d45ce4a000 r--p 00000000 fd:01 1234 /usr/bin/sonde
55d464469000-55d4652e7000 rw-p 00000000 00:00 0 [heap]
7f5c7e8ea000-7f5c7e99b000 r-xp 00001000 fd:01 99 /var/cache/sonde/a.cwasm
7ffd1000-7ffd2000 rw-p 00000000 00:00 0
";
        let ranges: Vec<_> = file_mappings(maps).collect();
        assert_eq!(
            ranges,
            [
                (0x55d45c501000, 0x55d45ce4a000),
                (0x7f5c7e8ea000, 0x7f5c7e99b000)
            ]
        );
    }

    #[test]
    fn only_read_only_private_file_mappings_are_unmapped() {
        let maps = "\
55d45c501000-55d45c502000 r--p 00000000 fd:01 1234 /usr/bin/sonde
55d45c502000-55d45c504000 r-xp 00001000 fd:01 1234 /usr/bin/sonde
55d45c504000-55d45c505000 rw-p 00003000 fd:01 1234 /usr/bin/sonde
55d464469000-55d4652e7000 rw-p 00000000 00:00 0 [heap]
7f5c7e8ea000-7f5c7e8eb000 r--s 00000000 fd:01 77 /var/lib/shared
7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]
";
        let ranges: Vec<_> = read_only_file_mappings(maps).collect();
        assert_eq!(
            ranges,
            [
                (0x55d45c501000, 0x55d45c502000),
                (0x55d45c502000, 0x55d45c504000)
            ]
        );
    }

    #[test]
    fn only_present_file_pages_are_unmapped() {
        const PRESENT: u64 = 1 << 63;
        const FILE: u64 = 1 << 61;
        let entries = [
            PRESENT | FILE,
            PRESENT | FILE,
            PRESENT, // a private copy: written before the mapping was made read-only
            0,       // not present
            PRESENT | FILE,
            FILE, // swapped-out shared page: not mapped
            PRESENT | FILE,
            PRESENT | FILE,
        ];
        assert_eq!(
            unmodified_file_pages(entries.into_iter()),
            [(0, 2), (4, 1), (6, 2)]
        );
    }

    /// The resident kilobytes of this process's mapping that starts at `address`.
    fn resident_kb(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let start = format!("{address:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
        lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn unmapping_drops_file_pages_and_keeps_private_copies() {
        let page = rustix::param::page_size();
        let file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &file, &vec![7u8; 64 * page]).unwrap();
        // SAFETY: a private mapping of a file of that size, unmapped at the end of the test.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                64 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        let bytes = map as *mut u8;
        // SAFETY: within the mapping; page 0 is written (a private copy of the file's page),
        // then the mapping is made read-only, as a loader does with relocated data.
        let read_all = |bytes: *mut u8| {
            (0..64)
                .map(|i| unsafe { *bytes.add(i * page) })
                .collect::<Vec<_>>()
        };
        unsafe {
            *bytes = 42;
            read_all(bytes);
            assert_eq!(libc::mprotect(map, 64 * page, libc::PROT_READ), 0);
        }
        assert_eq!(resident_kb(map as usize), (64 * page / 1024) as u64);
        unmap_unmodified_file_pages();
        // Only the private copy is left, with what was written to it.
        assert_eq!(resident_kb(map as usize), (page / 1024) as u64);
        let values = read_all(bytes);
        assert_eq!(values[0], 42);
        assert!(values[1..].iter().all(|v| *v == 7));
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(map, 64 * page) };
    }

    #[test]
    fn advising_this_process_keeps_it_working() {
        map_files_on_demand();
        release_startup_pages();
        // Code and read-only data paged out come back on use.
        assert_eq!(format!("{}", 6 * 7), "42");
        assert!(std::fs::read_to_string("/proc/self/maps").is_ok());
    }
}
