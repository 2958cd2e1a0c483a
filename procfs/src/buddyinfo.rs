//! `/proc/buddyinfo`: free blocks of each order per memory zone, one line per zone:
//! `Node 0, zone   Normal   4381   1093    185 …`.

use super::{Skipped, quoted};

/// One line of `/proc/buddyinfo`, borrowed from the file's text.
#[derive(Debug, Clone, PartialEq)]
pub struct BuddyZone<'a> {
    /// The NUMA node, as printed (`0`).
    pub node: &'a str,
    /// The zone name (`DMA32`, `Normal`, …).
    pub zone: &'a str,
    /// Free blocks of order 0, 1, … (blocks of 2^order pages).
    pub sizes: Vec<f64>,
}

/// Parses `/proc/buddyinfo`, in file order. Blank lines are ignored. A line with fewer than 4
/// fields, a count that is not a number, or a number of orders other than the first line's is
/// skipped (procfs fails the whole file on it).
pub fn parse(text: &str) -> (Vec<BuddyZone<'_>>, Skipped) {
    let mut zones: Vec<BuddyZone> = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 4 {
            skipped.line(
                index + 1,
                format!(
                    "{} fields, expected at least 4 in line {}",
                    fields.len(),
                    quoted(line)
                ),
            );
            continue;
        }
        let sizes: Result<Vec<f64>, _> = fields[4..].iter().map(|f| f.parse::<f64>()).collect();
        let sizes = match sizes {
            Ok(sizes) => sizes,
            Err(e) => {
                skipped.line(index + 1, format!("{e} in line {}", quoted(line)));
                continue;
            }
        };
        if let Some(first) = zones.first()
            && first.sizes.len() != sizes.len()
        {
            skipped.line(
                index + 1,
                format!(
                    "{} orders where the first line has {} in line {}",
                    sizes.len(),
                    first.sizes.len(),
                    quoted(line)
                ),
            );
            continue;
        }
        zones.push(BuddyZone {
            node: fields[1].strip_suffix(',').unwrap_or(fields[1]),
            zone: fields[3].strip_suffix(',').unwrap_or(fields[3]),
            sizes,
        });
    }
    (zones, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zones() {
        let (zones, skipped) = parse(
            "Node 0, zone      DMA      1      0      1\n\
             Node 1, zone   Normal   4381   1093    185 \n",
        );
        assert!(skipped.is_empty());
        assert_eq!(zones.len(), 2);
        assert_eq!((zones[1].node, zones[1].zone), ("1", "Normal"));
        assert_eq!(zones[1].sizes, [4381.0, 1093.0, 185.0]);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let (zones, skipped) = parse(
            "Node 0, zone DMA 1 2\nNode 0,\nNode 0, zone DMA32 1 x\nNode 0, zone Normal 1 2 3\n\
             Node 1, zone Normal 5 6\n",
        );
        assert_eq!(zones.len(), 2);
        assert_eq!(zones[1].node, "1");
        assert_eq!(skipped.count(), 3);
    }
}
