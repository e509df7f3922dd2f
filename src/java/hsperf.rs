//! `HotSpot`'s performance data: the file every `HotSpot` JVM keeps at `/tmp/hsperfdata_<user>/<pid>`
//! (unless started with `-XX:-UsePerfData`), memory-mapped and updated as it runs. Reading it is
//! passive: no signal, no attach, nothing the JVM notices. It tells what the JVM really runs
//! with: its collector, its heap's capacities, the options it was started with.
//!
//! The parser is pure (`parse` over the bytes); `read` reads one file, bounded, through std.
//!
//! Layout (`HotSpot`'s `perfMemory.hpp`): a 32-byte prologue — magic `0xcafec0c0` (always
//! big-endian), byte order (0 big, 1 little), major and minor version, an "accessible" flag,
//! bytes used, overflow, a modification time stamp, the first entry's offset, the number of
//! entries — then the entries, each: its length, the offset of its name, the vector length (0
//! for a scalar), the type (`J` a 64-bit integer, `B` a byte vector: a string), flags, units,
//! variability, and the offset of its data.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 4] = [0xca, 0xfe, 0xc0, 0xc0];
const PROLOGUE_LEN: usize = 32;
const ENTRY_HEADER_LEN: usize = 20;
/// The default `-XX:PerfDataMemorySize` is 64 KiB; the JVM rounds it to pages. A file larger
/// than this is not one.
pub const MAX_FILE: u64 = 1 << 20;
/// Where `HotSpot` puts the files on Linux, whatever `java.io.tmpdir` says.
pub const DIR_PREFIX: &str = "/tmp/hsperfdata_";

/// What an entry measures (`HotSpot`'s `PerfData::Units`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    None,
    Bytes,
    Ticks,
    Events,
    String,
    Hertz,
    Other(u8),
}

impl Units {
    fn from_byte(byte: u8) -> Units {
        match byte {
            1 => Units::None,
            2 => Units::Bytes,
            3 => Units::Ticks,
            4 => Units::Events,
            5 => Units::String,
            6 => Units::Hertz,
            other => Units::Other(other),
        }
    }
}

/// Whether an entry changes (`HotSpot`'s `PerfData::Variability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variability {
    Constant,
    Monotonic,
    Variable,
    Other(u8),
}

impl Variability {
    fn from_byte(byte: u8) -> Variability {
        match byte {
            1 => Variability::Constant,
            2 => Variability::Monotonic,
            3 => Variability::Variable,
            other => Variability::Other(other),
        }
    }
}

/// An entry's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Long(i64),
    /// A byte vector, up to its first NUL: `HotSpot`'s strings.
    Text(String),
    /// Any other type or vector: its type byte.
    Unsupported(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub units: Units,
    pub variability: Variability,
}

/// One JVM's performance data, by entry name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerfData {
    pub entries: BTreeMap<String, Entry>,
}

/// Why bytes are not performance data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    TooShort(usize),
    BadMagic([u8; 4]),
    BadByteOrder(u8),
    /// An entry or the prologue points outside the bytes: the offset.
    OutOfBounds(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooShort(len) => write!(f, "{len} bytes, shorter than the prologue"),
            ParseError::BadMagic(magic) => write!(f, "magic {magic:02x?} is not 0xcafec0c0"),
            ParseError::BadByteOrder(byte) => write!(f, "byte order {byte} is neither 0 nor 1"),
            ParseError::OutOfBounds(at) => write!(f, "an entry points outside the file at {at}"),
        }
    }
}

/// Integers in the file's byte order, with bounds checked.
struct Reader<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn slice(&self, at: usize, len: usize) -> Result<&[u8], ParseError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(ParseError::OutOfBounds(at))
    }

    fn u8(&self, at: usize) -> Result<u8, ParseError> {
        self.bytes
            .get(at)
            .copied()
            .ok_or(ParseError::OutOfBounds(at))
    }

    fn i32(&self, at: usize) -> Result<i32, ParseError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.slice(at, 4)?);
        Ok(if self.little {
            i32::from_le_bytes(raw)
        } else {
            i32::from_be_bytes(raw)
        })
    }

    /// A non-negative 32-bit offset or length.
    fn offset(&self, at: usize) -> Result<usize, ParseError> {
        usize::try_from(self.i32(at)?).map_err(|_| ParseError::OutOfBounds(at))
    }

    fn i64(&self, at: usize) -> Result<i64, ParseError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.slice(at, 8)?);
        Ok(if self.little {
            i64::from_le_bytes(raw)
        } else {
            i64::from_be_bytes(raw)
        })
    }
}

/// Parse a whole file. Entries are read up to the count the prologue gives or the first that
/// does not fit (the JVM may be adding one as we read).
pub fn parse(bytes: &[u8]) -> Result<PerfData, ParseError> {
    parse_only(bytes, |_| true)
}

/// As `parse`, keeping only the entries whose name `keep` accepts (a watch that reads the file
/// ten times a second needs a dozen of its three hundred).
pub fn parse_only(bytes: &[u8], keep: impl Fn(&[u8]) -> bool) -> Result<PerfData, ParseError> {
    if bytes.len() < PROLOGUE_LEN {
        return Err(ParseError::TooShort(bytes.len()));
    }
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&bytes[..4]);
    if magic != MAGIC {
        return Err(ParseError::BadMagic(magic));
    }
    let little = match bytes[4] {
        0 => false,
        1 => true,
        other => return Err(ParseError::BadByteOrder(other)),
    };
    let reader = Reader { bytes, little };
    let mut at = reader.offset(24)?;
    let count = reader.offset(28)?;
    let mut data = PerfData::default();
    for _ in 0..count {
        let Ok(entry_len) = reader.offset(at) else {
            break;
        };
        if entry_len < ENTRY_HEADER_LEN || at.saturating_add(entry_len) > bytes.len() {
            break;
        }
        let entry = reader.slice(at, entry_len)?;
        let local = Reader {
            bytes: entry,
            little,
        };
        let name_at = local.offset(4)?;
        let vector_len = local.offset(8)?;
        let kind = local.u8(12)?;
        let units = Units::from_byte(local.u8(14)?);
        let variability = Variability::from_byte(local.u8(15)?);
        let data_at = local.offset(16)?;
        let name_bytes = entry
            .get(name_at..data_at.max(name_at))
            .ok_or(ParseError::OutOfBounds(at + name_at))?;
        let name_end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        if !keep(&name_bytes[..name_end]) {
            at += entry_len;
            continue;
        }
        let name = String::from_utf8_lossy(&name_bytes[..name_end]).into_owned();
        let value = match (kind, vector_len) {
            (b'J', 0) => Value::Long(local.i64(data_at)?),
            (b'B', len) if len > 0 => {
                let raw = local.slice(data_at, len)?;
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                Value::Text(String::from_utf8_lossy(&raw[..end]).into_owned())
            }
            (other, _) => Value::Unsupported(other),
        };
        data.entries.insert(
            name,
            Entry {
                value,
                units,
                variability,
            },
        );
        at += entry_len;
    }
    Ok(data)
}

impl PerfData {
    #[must_use]
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.entries.get(name)?.value {
            Value::Long(value) => Some(value),
            _ => None,
        }
    }

    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        match &self.entries.get(name)?.value {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The young generation's collector, as `HotSpot` names it (`Serial young collection pauses`, …).
    #[must_use]
    pub fn collector_name(&self) -> Option<&str> {
        self.text("sun.gc.collector.0.name")
    }

    /// The heap's largest size. Serial and Parallel split the heap in two generations, whose
    /// maximum capacities add up to it; G1's young and old generation may each grow to the
    /// whole heap, so each reports (about) all of it.
    #[must_use]
    pub fn max_heap(&self) -> Option<u64> {
        let capacity = |generation: u8| {
            self.long(&format!("sun.gc.generation.{generation}.maxCapacity"))
                .and_then(|bytes| u64::try_from(bytes).ok())
        };
        let (young, old) = (capacity(0)?, capacity(1).unwrap_or(0));
        let g1 = self.collector_name().is_some_and(|n| n.starts_with("G1 "));
        Some(if g1 {
            young.max(old)
        } else {
            young.saturating_add(old)
        })
    }

    /// The options the JVM was started with (`java.rt.vmArgs`: `JAVA_TOOL_OPTIONS`'s, then the
    /// command line's).
    #[must_use]
    pub fn jvm_args(&self) -> Option<&str> {
        self.text("java.rt.vmArgs")
    }

    /// A counter in bytes (or a count) that is never negative.
    fn unsigned(&self, name: &str) -> Option<u64> {
        self.long(name).and_then(|value| u64::try_from(value).ok())
    }

    /// The heap's committed size: what its generations have taken from the system
    /// (`sun.gc.generation.N.capacity`, young and old; G1 reports each of its two parts).
    #[must_use]
    pub fn heap_committed(&self) -> Option<u64> {
        let young = self.unsigned("sun.gc.generation.0.capacity")?;
        Some(young.saturating_add(self.unsigned("sun.gc.generation.1.capacity").unwrap_or(0)))
    }

    /// The heap in use: the sum of every space's `used` in both generations.
    #[must_use]
    pub fn heap_used(&self) -> Option<u64> {
        let mut total: Option<u64> = None;
        for generation in 0..2 {
            let spaces = self
                .unsigned(&format!("sun.gc.generation.{generation}.spaces"))
                .unwrap_or(0)
                .min(8);
            for space in 0..spaces {
                if let Some(used) = self.unsigned(&format!(
                    "sun.gc.generation.{generation}.space.{space}.used"
                )) {
                    total = Some(total.unwrap_or(0).saturating_add(used));
                }
            }
        }
        total
    }

    /// Metaspace committed, class space included (`sun.gc.metaspace.capacity`).
    #[must_use]
    pub fn metaspace_committed(&self) -> Option<u64> {
        self.unsigned("sun.gc.metaspace.capacity")
    }

    /// The size of the compiled methods in the code cache (`sun.ci.nmethodSize`).
    #[must_use]
    pub fn compiled_code(&self) -> Option<u64> {
        self.unsigned("sun.ci.nmethodSize")
    }

    /// Java threads alive now (`java.threads.live`).
    #[must_use]
    pub fn live_threads(&self) -> Option<u64> {
        self.unsigned("java.threads.live")
    }

    /// Classes loaded now: loaded minus unloaded (`java.cls.*`).
    #[must_use]
    pub fn loaded_classes(&self) -> Option<u64> {
        let loaded = self.unsigned("java.cls.loadedClasses")?;
        Some(loaded.saturating_sub(self.unsigned("java.cls.unloadedClasses").unwrap_or(0)))
    }

    /// The main class or jar and its arguments (`sun.rt.javaCommand`).
    #[must_use]
    pub fn java_command(&self) -> Option<&str> {
        self.text("sun.rt.javaCommand")
    }
}

/// Why a JVM's file could not be used.
#[derive(Debug)]
pub enum ReadError {
    Missing,
    /// Not a regular file, or larger than `MAX_FILE`.
    NotPerfData(String),
    Io(std::io::Error),
    Parse(ParseError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing => f.write_str("no performance data file"),
            ReadError::NotPerfData(why) => f.write_str(why),
            ReadError::Io(err) => write!(f, "{err}"),
            ReadError::Parse(err) => write!(f, "{err}"),
        }
    }
}

/// The performance data file of process `pid`: the one `/tmp/hsperfdata_*/<pid>` there is.
/// `tmp` is the directory holding the `hsperfdata_*` directories (`/tmp`).
#[must_use]
pub fn find(tmp: &Path, pid: i32) -> Option<PathBuf> {
    let entries = std::fs::read_dir(tmp).ok()?;
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("hsperfdata_")
        })
        .map(|entry| entry.path().join(pid.to_string()))
        .find(|path| path.is_file())
}

/// Read and parse one file: a regular file of at most `MAX_FILE` bytes.
pub fn read(path: &Path) -> Result<PerfData, ReadError> {
    read_only(path, |_| true)
}

/// As `read`, keeping only the entries `keep` accepts (`parse_only`).
pub fn read_only(path: &Path, keep: impl Fn(&[u8]) -> bool) -> Result<PerfData, ReadError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(err) => return Err(ReadError::Io(err)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotPerfData("not a regular file".to_string()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(ReadError::NotPerfData(format!(
            "larger than {} KiB",
            MAX_FILE >> 10
        )));
    }
    parse_only(&bytes, keep).map_err(ReadError::Parse)
}
