//! The build information every Go executable carries: the Go version it was built with and the
//! module text `go version -m` prints, whose `build DefaultGODEBUG=...` line (a tab after `build`) holds the GODEBUG
//! defaults the binary starts with (from its go.mod's `go` line and `//go:debug` directives).
//!
//! The Go linker writes a 32-byte header into the ELF section `.go.buildinfo`, 16-byte
//! aligned: the magic `\xff Go buildinf:` (14 bytes), the pointer size, a flags byte, then
//! either (flags bit 1 set, Go 1.18 and later) the version and the module text inline, each
//! as a varint length and its bytes; or (Go 1.17 and earlier) two pointers to Go string
//! headers (pointer, length) elsewhere in the image, in the byte order of flags bit 0.
//!
//! Everything here is a pure function of the bytes an [`Image`] hands out. Each read is
//! bounded ([`MAX_TABLE`], [`MAX_STRING`]), so garbage costs at most a few small reads and
//! gives `None`, never a panic or a large allocation. [`read_file`] opens a regular file only
//! and reads it by offset.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: u64 = 16;
const SECTION: &[u8] = b".go.buildinfo";
/// The most bytes one table (section headers, program headers, section names) may take.
pub const MAX_TABLE: usize = 1 << 20;
/// The most bytes the version or the module text may take.
pub const MAX_STRING: usize = 1 << 20;
/// The most of `.go.buildinfo` searched for the magic (the linker puts it at the start).
const MAX_SEARCH: usize = 64 << 10;
/// The module text's framing: 16 bytes before and after (cmd/go's infoStart, infoEnd).
const FRAME: usize = 16;

const PT_LOAD: u32 = 1;

/// Bytes of an executable by file offset: `read(offset, len)` gives at most `len` bytes (fewer
/// at the end), or `None` when the offset is past the end or the read failed.
pub trait Image {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>>;
}

impl Image for [u8] {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(offset).ok()?;
        let rest = self.get(start..)?;
        Some(rest[..len.min(rest.len())].to_vec())
    }
}

impl Image for File {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut buffer = vec![0; len];
        let mut filled = 0;
        while filled < len {
            match self.read_at(&mut buffer[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(count) => filled += count,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        buffer.truncate(filled);
        Some(buffer)
    }
}

/// What a Go executable says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// As the toolchain wrote it: `go1.27.3`, `go1.19.8`, `devel go1.28-abc123`.
    pub go_version: String,
    /// `go version -m`'s text without its framing (empty when the binary has none).
    pub module_text: String,
}

/// A Go release, `go1.N` (the patch level does not matter here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for GoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl BuildInfo {
    /// The release in `go_version`: `go1.27.3` and `go1.27rc1` give 1.27; a `devel` build
    /// gives the release it leads to, when it names one.
    #[must_use]
    pub fn version(&self) -> Option<GoVersion> {
        let at = self.go_version.find("go1.")?;
        let rest = &self.go_version[at + 2..];
        let digits = |text: &str| -> Option<(u32, usize)> {
            let end = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            Some((text[..end].parse().ok()?, end))
        };
        let (major, used) = digits(rest)?;
        let (minor, _) = digits(rest.get(used + 1..)?)?;
        Some(GoVersion { major, minor })
    }

    /// The `build DefaultGODEBUG=` settings, in order (`name=value`, comma-separated).
    pub fn default_godebug(&self) -> Vec<(String, String)> {
        self.module_text
            .lines()
            .filter_map(|line| line.strip_prefix("build\tDefaultGODEBUG="))
            .flat_map(godebug_settings)
            .collect()
    }
}

/// The `name=value` pairs of a GODEBUG text (`a=1,b=0`), untrimmed as Go reads them; entries
/// without `=` are skipped.
#[must_use]
pub fn godebug_settings(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// The build information of the executable at `path`: `None` for anything that is not a
/// regular file holding an ELF Go executable.
#[must_use]
pub fn read_file(path: &Path) -> Option<BuildInfo> {
    // Regular files only, opened without blocking: a FIFO at `path` cannot hold jwrap up.
    let file = crate::root::open_regular(path).ok()?;
    parse(&file)
}

/// The ELF facts the search needs.
struct Elf {
    little: bool,
    wide: bool,
    segments: Vec<Segment>,
}

/// A `PT_LOAD` segment: where its bytes are in the file and in memory.
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

impl Elf {
    fn u16(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    }

    fn u32(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }))
    }

    fn u64(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// An address-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, bytes: &[u8], at: usize) -> Option<u64> {
        if self.wide {
            self.u64(bytes, at)
        } else {
            self.u32(bytes, at)
        }
    }

    /// Up to `len` bytes at virtual address `addr`, within one segment's file bytes.
    fn read_vaddr(&self, image: &(impl Image + ?Sized), addr: u64, len: usize) -> Option<Vec<u8>> {
        let segment = self
            .segments
            .iter()
            .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)?;
        let within = addr - segment.vaddr;
        let left = usize::try_from(segment.filesz - within).unwrap_or(usize::MAX);
        image.read(segment.offset.checked_add(within)?, len.min(left))
    }
}

/// A table of `count` entries of `size` bytes at `offset`, read whole (bounded).
fn table(image: &(impl Image + ?Sized), offset: u64, size: u64, count: u64) -> Option<Vec<u8>> {
    let len = usize::try_from(size.checked_mul(count)?).ok()?;
    if len > MAX_TABLE {
        return None;
    }
    let bytes = image.read(offset, len)?;
    (bytes.len() == len).then_some(bytes)
}

/// The build information of an ELF Go executable, or `None`.
pub fn parse(image: &(impl Image + ?Sized)) -> Option<BuildInfo> {
    let ident = image.read(0, 64)?;
    if ident.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = match ident.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match ident.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let mut elf = Elf {
        little,
        wide,
        segments: Vec::new(),
    };
    // ELF header fields: (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx).
    let (phoff, shoff, at) = if wide {
        (elf.u64(&ident, 32)?, elf.u64(&ident, 40)?, 54)
    } else {
        (elf.u32(&ident, 28)?, elf.u32(&ident, 32)?, 42)
    };
    let phentsize = elf.u16(&ident, at)?;
    let phnum = elf.u16(&ident, at + 2)?;
    let shentsize = elf.u16(&ident, at + 4)?;
    let shnum = elf.u16(&ident, at + 6)?;
    let shstrndx = elf.u16(&ident, at + 8)?;

    let programs = table(image, phoff, phentsize, phnum)?;
    for entry in programs.chunks_exact(usize::try_from(phentsize).ok()?.max(1)) {
        if elf.u32(entry, 0)? != u64::from(PT_LOAD) {
            continue;
        }
        // ELF64: type, flags, offset, vaddr, paddr, filesz; ELF32: type, offset, vaddr, paddr, filesz.
        let segment = if wide {
            Segment {
                offset: elf.u64(entry, 8)?,
                vaddr: elf.u64(entry, 16)?,
                filesz: elf.u64(entry, 32)?,
            }
        } else {
            Segment {
                offset: elf.u32(entry, 4)?,
                vaddr: elf.u32(entry, 8)?,
                filesz: elf.u32(entry, 16)?,
            }
        };
        elf.segments.push(segment);
    }

    let sections = table(image, shoff, shentsize, shnum)?;
    let entry_size = usize::try_from(shentsize).ok()?.max(1);
    let section = |index: usize| sections.get(index * entry_size..(index + 1) * entry_size);
    // Section header: name (4), type (4), flags (word), addr (word), offset (word), size (word).
    let (addr_at, size_at) = if wide { (16, 32) } else { (12, 20) };
    let offset_at = if wide { 24 } else { 16 };
    let names_header = section(usize::try_from(shstrndx).ok()?)?;
    let names_offset = elf.word(names_header, offset_at)?;
    let names_size = usize::try_from(elf.word(names_header, size_at)?).ok()?;
    if names_size > MAX_TABLE {
        return None;
    }
    let names = image.read(names_offset, names_size)?;
    let (addr, size) = (0..usize::try_from(shnum).ok()?)
        .filter_map(section)
        .find(|header| {
            elf.u32(header, 0)
                .and_then(|name| usize::try_from(name).ok())
                .and_then(|name| names.get(name..))
                .is_some_and(|name| {
                    name.starts_with(SECTION) && name.get(SECTION.len()) == Some(&0)
                })
        })
        .and_then(|header| Some((elf.word(header, addr_at)?, elf.word(header, size_at)?)))?;
    let blob_addr = search(&elf, image, addr, size)?;
    decode(&elf, image, blob_addr)
}

/// The address of the magic in the section at `addr` of `size` bytes (16-byte aligned).
fn search(elf: &Elf, image: &(impl Image + ?Sized), addr: u64, size: u64) -> Option<u64> {
    let start = addr.checked_add(ALIGN - 1)? & !(ALIGN - 1);
    let skip = usize::try_from(start - addr).ok()?;
    let len = usize::try_from(size).ok()?.min(MAX_SEARCH);
    let bytes = elf.read_vaddr(image, addr, len)?;
    let mut at = skip;
    while at + HEADER_SIZE <= bytes.len() {
        if bytes[at..].starts_with(MAGIC) {
            return Some(addr + at as u64);
        }
        at += ALIGN as usize;
    }
    None
}

/// The version and module text from the header at `addr`.
fn decode(elf: &Elf, image: &(impl Image + ?Sized), addr: u64) -> Option<BuildInfo> {
    let header = elf.read_vaddr(image, addr, HEADER_SIZE)?;
    if header.len() < HEADER_SIZE {
        return None;
    }
    let pointer_size = header[14];
    let flags = header[15];
    let (version, module) = if flags & 0x2 != 0 {
        let (version, next) = inline_string(elf, image, addr + HEADER_SIZE as u64)?;
        let (module, _) = inline_string(elf, image, next)?;
        (version, module)
    } else {
        let pointers = Elf {
            little: flags & 0x1 == 0,
            wide: match pointer_size {
                4 => false,
                8 => true,
                _ => return None,
            },
            segments: Vec::new(),
        };
        let width = usize::from(pointer_size);
        let version_at = pointers.word(&header, 16)?;
        let module_at = pointers.word(&header, 16 + width)?;
        (
            pointed_string(elf, &pointers, image, version_at)?,
            pointed_string(elf, &pointers, image, module_at).unwrap_or_default(),
        )
    };
    let version = String::from_utf8(version).ok()?;
    if version.is_empty() {
        return None;
    }
    Some(BuildInfo {
        go_version: version,
        module_text: unframe(&module),
    })
}

/// A varint length and that many bytes at `addr`; the address after them.
fn inline_string(elf: &Elf, image: &(impl Image + ?Sized), addr: u64) -> Option<(Vec<u8>, u64)> {
    let prefix = elf.read_vaddr(image, addr, 10)?;
    let (length, used) = uvarint(&prefix)?;
    let length = usize::try_from(length).ok()?;
    if length > MAX_STRING {
        return None;
    }
    let start = addr.checked_add(used as u64)?;
    let bytes = if length == 0 {
        Vec::new()
    } else {
        elf.read_vaddr(image, start, length)?
    };
    (bytes.len() == length).then_some((bytes, start + length as u64))
}

/// A Go string header (data pointer, length) at `addr`, and the bytes it points to.
fn pointed_string(
    elf: &Elf,
    pointers: &Elf,
    image: &(impl Image + ?Sized),
    addr: u64,
) -> Option<Vec<u8>> {
    let width = if pointers.wide { 8 } else { 4 };
    let header = elf.read_vaddr(image, addr, 2 * width)?;
    let data = pointers.word(&header, 0)?;
    let length = usize::try_from(pointers.word(&header, width)?).ok()?;
    if length > MAX_STRING {
        return None;
    }
    if length == 0 {
        return Some(Vec::new());
    }
    let bytes = elf.read_vaddr(image, data, length)?;
    (bytes.len() == length).then_some(bytes)
}

/// An unsigned LEB128 varint, as Go's `binary.Uvarint`: the value and the bytes it took.
#[must_use]
pub fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (index, byte) in bytes.iter().enumerate().take(10) {
        let low = u64::from(byte & 0x7f);
        if index == 9 && *byte > 1 {
            return None;
        }
        value |= low << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// The module text without its 16-byte sentinels, or empty when they are not there (a binary
/// built outside module mode).
fn unframe(module: &[u8]) -> String {
    let framed = module.len() > 2 * FRAME && module[module.len() - FRAME - 1] == b'\n';
    if !framed {
        return String::new();
    }
    String::from_utf8_lossy(&module[FRAME..module.len() - FRAME]).into_owned()
}
