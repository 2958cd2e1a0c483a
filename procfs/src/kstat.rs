//! The Solaris Porting Layer's kstat files, `/proc/spl/kstat/<module>/…` (ZFS's statistics
//! among them): the "named" format of `arcstats`, `zil`, `<pool>/objset-*`, …, and the "io"
//! format of `<pool>/io`, read as node_exporter's `zfs` collector reads them.
//!
//! A named kstat file is a raw header line (kstat id, type, flags, …), a `name type data` line,
//! then one `name type data` line per statistic, where `type` is the `KSTAT_DATA_*` number:
//!
//! ```text
//! 6 1 0x01 91 4368 5266997922 97951858082072
//! name                            type data
//! hits                            4    8772612
//! dataset_name                    7    pool1/dataset with  space
//! ```
//!
//! Columns are separated by runs of whitespace, as Go's `strings.Fields` splits them. The data
//! of a string statistic (`KSTAT_DATA_STRING`, 7) is the rest of the line from its first
//! character: a dataset name may hold spaces.

use crate::Skipped;
use sonde_sdk::Error;

/// The `KSTAT_DATA_*` type of a named statistic (`lib/libspl/include/sys/kstat.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// 0: `KSTAT_DATA_CHAR`.
    Char,
    /// 1: `KSTAT_DATA_INT32`.
    Int32,
    /// 2: `KSTAT_DATA_UINT32`.
    Uint32,
    /// 3: `KSTAT_DATA_INT64`.
    Int64,
    /// 4: `KSTAT_DATA_UINT64`.
    Uint64,
    /// 5: `KSTAT_DATA_LONG`.
    Long,
    /// 6: `KSTAT_DATA_ULONG`.
    Ulong,
    /// 7: `KSTAT_DATA_STRING`.
    String,
}

impl DataType {
    /// The type with number `text`, `None` for anything else.
    pub fn from_column(text: &str) -> Option<DataType> {
        Some(match text {
            "0" => DataType::Char,
            "1" => DataType::Int32,
            "2" => DataType::Uint32,
            "3" => DataType::Int64,
            "4" => DataType::Uint64,
            "5" => DataType::Long,
            "6" => DataType::Ulong,
            "7" => DataType::String,
            _ => return None,
        })
    }

    /// True for the text types (char and string), whose data may hold spaces.
    pub fn is_text(self) -> bool {
        matches!(self, DataType::Char | DataType::String)
    }
}

/// One statistic of a named kstat file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named<'a> {
    /// The line number (from 1), for error messages.
    pub line: usize,
    /// The statistic's name, e.g. `hits`, `erpt-dropped`.
    pub name: &'a str,
    /// Its type.
    pub data_type: DataType,
    /// Its data: the third column of a number; the rest of the line from the third column for
    /// a text type (trailing whitespace kept, as node_exporter keeps it).
    pub data: &'a str,
}

/// A parsed statistic's value: node_exporter reads the 64-bit integer types only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// `KSTAT_DATA_INT64`.
    Int64(i64),
    /// `KSTAT_DATA_UINT64`.
    Uint64(u64),
}

impl Value {
    /// The value as a sample value.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int64(v) => v as f64,
            Value::Uint64(v) => v as f64,
        }
    }
}

impl Named<'_> {
    /// The value of an `INT64` or `UINT64` statistic, read as Go's `strconv.ParseInt(s, 10, 64)`
    /// and `ParseUint(s, 10, 64)` read it (decimal; a sign for the signed type only); `None` for
    /// the other types, which node_exporter leaves out.
    pub fn value(&self) -> Option<Result<Value, Error>> {
        let bad = || {
            Error::msg(format!(
                "invalid integer {:?} for {:?}",
                self.data, self.name
            ))
        };
        Some(match self.data_type {
            DataType::Uint64 if self.data.starts_with('+') => Err(bad()),
            DataType::Uint64 => self.data.parse().map(Value::Uint64).map_err(|_| bad()),
            DataType::Int64 => self.data.parse().map(Value::Int64).map_err(|_| bad()),
            _ => return None,
        })
    }
}

/// The first three whitespace-separated columns of `line` (with where each starts) and the
/// number of columns in all, counted up to 4.
fn columns(line: &str) -> ([(usize, &str); 3], usize) {
    let mut out = [(0, ""); 3];
    let mut count = 0;
    let mut start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                if count == 3 {
                    return (out, 4);
                }
                out[count] = (s, &line[s..i]);
                count += 1;
                start = None;
            }
            _ => {}
        }
    }
    (out, count)
}

/// Parses a named kstat file. Lines before the `name type data` header are the raw kstat header
/// and ignored, as are empty lines. A statistic line with fewer than three columns, a type that
/// is no `KSTAT_DATA_*` number, or a number type with more than three columns is left out and
/// counted in the [`Skipped`]. A file without the `name type data` header is an error.
pub fn parse_named(text: &str) -> Result<(Vec<Named<'_>>, Skipped), Error> {
    let mut stats = Vec::new();
    let mut skipped = Skipped::default();
    let mut header = false;
    for (i, raw) in text.split('\n').enumerate() {
        // Go's bufio.ScanLines drops a trailing carriage return.
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let number = i + 1;
        if !header {
            let mut fields = line.split_whitespace();
            header = fields.next() == Some("name")
                && fields.next() == Some("type")
                && fields.next() == Some("data")
                && fields.next().is_none();
            continue;
        }
        let (cols, count) = columns(line);
        if count == 0 {
            continue;
        }
        if count < 3 {
            skipped.line(number, format!("{count} columns, expected 3"));
            continue;
        }
        let Some(data_type) = DataType::from_column(cols[1].1) else {
            skipped.line(number, format!("unknown kstat type {:?}", cols[1].1));
            continue;
        };
        let data = if data_type.is_text() {
            &line[cols[2].0..]
        } else if count > 3 {
            skipped.line(number, format!("{count} columns, expected 3"));
            continue;
        } else {
            cols[2].1
        };
        stats.push(Named {
            line: number,
            name: cols[0].1,
            data_type,
            data,
        });
    }
    if !header {
        return Err(Error::msg("no \"name type data\" header"));
    }
    Ok((stats, skipped))
}

/// One column of an io kstat file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoColumn<'a> {
    /// The number (from 1) of the data line, for error messages.
    pub line: usize,
    /// The column's name, e.g. `nread`.
    pub name: &'a str,
    /// Its value.
    pub value: u64,
}

/// Parses an io kstat file (`KSTAT_TYPE_IO`): a header line of at least 12 column names
/// starting with `nread`, then one line of as many unsigned decimal integers. Returns each
/// column ([`IoColumn`]). A data line with fewer values than the header has names is
/// left out whole; a value that does not parse leaves out that column; lines after the data
/// line are left out; each counted in the [`Skipped`]. A file without the header is an error.
pub fn parse_io(text: &str) -> Result<(Vec<IoColumn<'_>>, Skipped), Error> {
    let mut out = Vec::new();
    let mut skipped = Skipped::default();
    let mut names: Option<Vec<&str>> = None;
    let mut data_seen = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let number = i + 1;
        let Some(names) = &names else {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 12 && fields[0] == "nread" {
                names = Some(fields);
            }
            continue;
        };
        let values: Vec<&str> = line.split_whitespace().collect();
        if values.is_empty() {
            continue;
        }
        if data_seen {
            skipped.line(number, "a second data line");
            continue;
        }
        data_seen = true;
        if values.len() < names.len() {
            skipped.line(
                number,
                format!("{} values, expected {}", values.len(), names.len()),
            );
            continue;
        }
        for (name, value) in names.iter().zip(values) {
            match value.parse::<u64>() {
                Ok(v) if !value.starts_with('+') => out.push(IoColumn {
                    line: number,
                    name,
                    value: v,
                }),
                _ => skipped.line(number, format!("invalid integer {value:?} for {name:?}")),
            }
        }
    }
    if names.is_none() {
        return Err(Error::msg("no \"nread …\" header"));
    }
    Ok((out, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARC: &str = "6 1 0x01 91 4368 5266997922 97951858082072\n\
        name                            type data\n\
        hits                            4    8772612\n\
        memory_available_bytes          3    -922337203685477580\n\
        erpt-dropped                    4    18\n\
        dataset_name                    7    pool3/dataset with  space\n\
        \n\
        short 4\n\
        weird                           9    1\n\
        extra                           4    1 2\n\
        bad                             4    x\n";

    #[test]
    fn named_statistics_with_their_types() {
        let (stats, skipped) = parse_named(ARC).unwrap();
        let names: Vec<&str> = stats.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "hits",
                "memory_available_bytes",
                "erpt-dropped",
                "dataset_name",
                "bad"
            ]
        );
        assert_eq!(stats[0].value().unwrap().unwrap(), Value::Uint64(8772612));
        assert_eq!(
            stats[1].value().unwrap().unwrap(),
            Value::Int64(-922337203685477580)
        );
        assert_eq!(stats[3].data, "pool3/dataset with  space");
        assert!(stats[3].value().is_none());
        assert!(stats[4].value().unwrap().is_err());
        assert_eq!(skipped.count(), 3);
        assert_eq!(
            skipped.result("/x", true).unwrap_err().to_string(),
            "/x: 3 malformed lines skipped, first line 8: 2 columns, expected 3"
        );
    }

    #[test]
    fn signs_as_go_parses_them() {
        let text = "name type data\na 4 +1\nb 3 +1\nc 4 -1\nd 4 18446744073709551616\n";
        let (stats, _) = parse_named(text).unwrap();
        let values: Vec<Option<Value>> = stats.iter().map(|s| s.value().unwrap().ok()).collect();
        assert_eq!(values, [None, Some(Value::Int64(1)), None, None]);
    }

    #[test]
    fn a_file_without_header_is_an_error() {
        assert!(parse_named("").is_err());
        assert!(parse_named("hits 4 1\n").is_err());
        assert!(parse_named("name type data\n").unwrap().0.is_empty());
    }

    #[test]
    fn io_columns() {
        let text = "12 3 0x00 1 80 79205351707403 395818011156865\n\
            nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt    \n\
            1884160  3206144  22       132      7155162  104112268 79210489694949 24168078 104112268 79210489849220 0        0       \n";
        let (values, skipped) = parse_io(text).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(values.len(), 12);
        assert_eq!(
            (values[0].line, values[0].name, values[0].value),
            (3, "nread", 1884160)
        );
        assert_eq!((values[11].name, values[11].value), ("rcnt", 0));

        let short = "nread a b c d e f g h i j k\n1 2 3\n";
        let (values, skipped) = parse_io(short).unwrap();
        assert!(values.is_empty());
        assert_eq!(skipped.count(), 1);

        let bad =
            "nread a b c d e f g h i j k\n1 2 3 4 5 6 7 8 9 10 x 12\n1 2 3 4 5 6 7 8 9 10 11 12\n";
        let (values, skipped) = parse_io(bad).unwrap();
        assert_eq!(values.len(), 11);
        assert_eq!(skipped.count(), 2);
        assert!(parse_io("nread a b\n1 2 3\n").is_err());
    }
}
