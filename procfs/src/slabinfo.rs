//! `/proc/slabinfo` (version 2.1, every kernel since 2.6.10): one line per slab cache,
//! `name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit>
//! <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>`.

use super::{Skipped, quoted};

/// One slab cache, borrowed from the file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slab<'a> {
    /// The cache name (`kmalloc-8192`, `TCPv6`, …).
    pub name: &'a str,
    /// Objects in use.
    pub active_objects: i64,
    /// Objects allocated.
    pub objects: i64,
    /// Object size in bytes.
    pub object_size: i64,
    /// Objects per slab.
    pub objects_per_slab: i64,
    /// Pages per slab.
    pub pages_per_slab: i64,
}

/// Parses `/proc/slabinfo`. The version line and the `# name` header are skipped (any line
/// containing `slabinfo -` or `# name`, as procfs does), as are blank lines. A line that does
/// not have the 16 fields of version 2.1, or whose numbers do not parse, is skipped (procfs fails
/// the whole file on it).
pub fn parse(text: &str) -> (Vec<Slab<'_>>, Skipped) {
    let mut slabs = Vec::with_capacity(text.len() / 120);
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        if line.contains("slabinfo -") || line.contains("# name") {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() != 16 {
            skipped.line(
                index + 1,
                format!(
                    "{} fields, expected 16 in line {}",
                    fields.len(),
                    quoted(line)
                ),
            );
            continue;
        }
        let mut numbers = [0i64; 16];
        let mut bad = None;
        for i in [1, 2, 3, 4, 5, 8, 9, 10, 13, 14, 15] {
            match fields[i].parse::<i64>() {
                Ok(n) => numbers[i] = n,
                Err(e) => {
                    bad = Some(format!("{:?}: {e} in line {}", fields[i], quoted(line)));
                    break;
                }
            }
        }
        if let Some(problem) = bad {
            skipped.line(index + 1, problem);
            continue;
        }
        slabs.push(Slab {
            name: fields[0],
            active_objects: numbers[1],
            objects: numbers[2],
            object_size: numbers[3],
            objects_per_slab: numbers[4],
            pages_per_slab: numbers[5],
        });
    }
    (slabs, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "slabinfo - version: 2.1\n\
        # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n";

    #[test]
    fn parses_caches() {
        let text = format!(
            "{HEAD}tw_sock_TCP          704    864    256   32    2 : tunables    0    0    0 : slabdata     27     27      0\n"
        );
        let (slabs, skipped) = parse(&text);
        assert!(skipped.is_empty());
        assert_eq!(
            slabs,
            [Slab {
                name: "tw_sock_TCP",
                active_objects: 704,
                objects: 864,
                object_size: 256,
                objects_per_slab: 32,
                pages_per_slab: 2
            }]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = format!(
            "{HEAD}a 1 2 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\nb 1 2\n\
             c 1 x 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\nd 1 2 3 4 5 : tunables 0 0 y : slabdata 1 1 0\n"
        );
        let (slabs, skipped) = parse(&text);
        assert_eq!(slabs.len(), 1);
        assert_eq!(skipped.count(), 3);
    }
}
