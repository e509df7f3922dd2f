//! The Go build-info reader over real Go executables' bytes, built here by Go 1.27 and by
//! Debian's Go 1.19 (both write the inline format of Go 1.18+), compared with what each
//! toolchain's own `go version -m` prints; over the pointer format of Go 1.17 and earlier,
//! which no installable toolchain writes any more, in ELF images this file assembles by hand
//! (64-bit little-endian and 32-bit big-endian) around a real binary's version and module text;
//! and over garbage: truncations and byte flips of a real binary, lying ELF headers, files
//! that are not executables.

use crate::gotools::{Toolchain, report_program, version_m};
use crate::skip;
use jwrap::gobuildinfo::{self, BuildInfo, GoVersion, Image};
use std::path::Path;

/// What `go version -m` printed: the version, and the module lines without their leading tab.
fn expected(toolchain: Toolchain, binary: &Path) -> (String, Vec<String>) {
    let text = version_m(toolchain, binary);
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    let version = first.split_once(": ").unwrap().1.trim().to_string();
    let module = lines
        .map(|line| line.strip_prefix('\t').unwrap_or(line).to_string())
        .collect();
    (version, module)
}

fn real_binaries() -> Result<Vec<(Toolchain, &'static str, std::path::PathBuf)>, String> {
    Ok(vec![
        (
            Toolchain::New,
            "1.27",
            report_program(Toolchain::New, "1.27")?,
        ),
        (
            Toolchain::New,
            "1.24",
            report_program(Toolchain::New, "1.24")?,
        ),
        (
            Toolchain::Old,
            "1.19",
            report_program(Toolchain::Old, "1.19")?,
        ),
    ])
}

#[test]
fn real_go_binaries_read_as_go_version_m_prints_them() {
    let binaries = match real_binaries() {
        Ok(binaries) => binaries,
        Err(reason) => skip!("{reason}"),
    };
    for (toolchain, go_line, binary) in binaries {
        let bytes = std::fs::read(&binary).unwrap();
        let info = gobuildinfo::parse(&bytes[..]).expect("a Go binary's build info");
        let (version, module) = expected(toolchain, &binary);
        assert_eq!(info.go_version, version, "{}", binary.display());
        let lines: Vec<String> = info.module_text.lines().map(String::from).collect();
        assert_eq!(lines, module, "{}", binary.display());
        // Read from the file by offset: the same answer.
        assert_eq!(gobuildinfo::read_file(&binary), Some(info.clone()));

        let release = info.version().unwrap();
        let defaults = info.default_godebug();
        let containermaxprocs = defaults
            .iter()
            .find(|(name, _)| name == "containermaxprocs")
            .map(|(_, value)| value.as_str());
        match (toolchain, go_line) {
            (Toolchain::New, "1.27") => {
                assert_eq!(
                    release,
                    GoVersion {
                        major: 1,
                        minor: 27
                    }
                );
                assert_eq!(containermaxprocs, None, "{defaults:?}");
            }
            (Toolchain::New, _) => {
                // go.mod says 1.24: the toolchain keeps the old GOMAXPROCS behaviour.
                assert_eq!(
                    release,
                    GoVersion {
                        major: 1,
                        minor: 27
                    }
                );
                assert_eq!(containermaxprocs, Some("0"), "{defaults:?}");
                assert!(
                    defaults
                        .iter()
                        .any(|(name, v)| name == "updatemaxprocs" && v == "0")
                );
            }
            (Toolchain::Old, _) => {
                assert_eq!(
                    release,
                    GoVersion {
                        major: 1,
                        minor: 19
                    }
                );
                assert_eq!(containermaxprocs, None);
            }
        }
    }
}

#[test]
fn versions_and_godebug_texts() {
    let info = |version: &str, module: &str| BuildInfo {
        go_version: version.to_string(),
        module_text: module.to_string(),
    };
    let release = |major, minor| Some(GoVersion { major, minor });
    assert_eq!(info("go1.27.3", "").version(), release(1, 27));
    assert_eq!(info("go1.25rc1", "").version(), release(1, 25));
    assert_eq!(info("go1.9", "").version(), release(1, 9));
    assert_eq!(
        info("devel go1.28-0123abc Mon Jan 1", "").version(),
        release(1, 28)
    );
    assert_eq!(info("go1.22.0 X:rangefunc", "").version(), release(1, 22));
    assert_eq!(info("devel +abcdef", "").version(), None);
    assert_eq!(info("go1.", "").version(), None);
    assert_eq!(info("go", "").version(), None);
    let module = "path\tx\nbuild\t-compiler=gc\nbuild\tDefaultGODEBUG=a=1,containermaxprocs=0\n";
    assert_eq!(
        info("go1.27.0", module).default_godebug(),
        [
            ("a".to_string(), "1".to_string()),
            ("containermaxprocs".to_string(), "0".to_string())
        ]
    );
    assert_eq!(
        gobuildinfo::godebug_settings("x=1,,junk, y=2 ,z="),
        [
            ("x".to_string(), "1".to_string()),
            (" y".to_string(), "2 ".to_string()),
            ("z".to_string(), String::new())
        ]
    );
    assert_eq!(gobuildinfo::uvarint(&[0x05]), Some((5, 1)));
    assert_eq!(gobuildinfo::uvarint(&[0x80, 0x01]), Some((128, 2)));
    assert_eq!(gobuildinfo::uvarint(&[0x80]), None);
    assert_eq!(gobuildinfo::uvarint(&[0xff; 11]), None);
}

/// Byte order and width of a hand-made image.
#[derive(Clone, Copy)]
struct Target {
    wide: bool,
    little: bool,
}

impl Target {
    fn put(self, out: &mut Vec<u8>, value: u64, bytes: usize) {
        let all = if self.little {
            value.to_le_bytes()
        } else {
            value.to_be_bytes()
        };
        if self.little {
            out.extend_from_slice(&all[..bytes]);
        } else {
            out.extend_from_slice(&all[8 - bytes..]);
        }
    }

    fn word(self) -> usize {
        if self.wide { 8 } else { 4 }
    }
}

const BASE: u64 = 0x40_0000;

/// An ELF image with one `PT_LOAD` segment mapping the whole file at `BASE`, a
/// `.go.buildinfo` section holding a pointer-format header (Go 1.17 and earlier) that points
/// at Go string headers for `version` and `module`, and a `.shstrtab`.
fn pointer_format_elf(target: Target, version: &[u8], module: &[u8]) -> Vec<u8> {
    let (ehsize, phentsize, shentsize): (usize, usize, usize) = if target.wide {
        (64, 56, 64)
    } else {
        (52, 32, 40)
    };
    let word = target.word();
    let phoff = ehsize;
    let blob_off = (phoff + phentsize).next_multiple_of(16);
    let headers_off = blob_off + 32;
    let version_off = headers_off + 2 * 2 * word;
    let module_off = version_off + version.len();
    let names: &[u8] = b"\0.go.buildinfo\0.shstrtab\0";
    let names_off = module_off + module.len();
    let shoff = (names_off + names.len()).next_multiple_of(8);
    let total = shoff + 3 * shentsize;
    let addr = |offset: usize| BASE + offset as u64;

    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF");
    out.push(if target.wide { 2 } else { 1 });
    out.push(if target.little { 1 } else { 2 });
    out.push(1);
    out.resize(16, 0);
    target.put(&mut out, 2, 2); // ET_EXEC
    target.put(&mut out, 62, 2); // machine
    target.put(&mut out, 1, 4);
    target.put(&mut out, addr(0), word); // entry
    target.put(&mut out, phoff as u64, word);
    target.put(&mut out, shoff as u64, word);
    target.put(&mut out, 0, 4);
    target.put(&mut out, ehsize as u64, 2);
    target.put(&mut out, phentsize as u64, 2);
    target.put(&mut out, 1, 2);
    target.put(&mut out, shentsize as u64, 2);
    target.put(&mut out, 3, 2);
    target.put(&mut out, 2, 2); // .shstrtab
    assert_eq!(out.len(), ehsize);

    // PT_LOAD over the whole file.
    target.put(&mut out, 1, 4);
    if target.wide {
        target.put(&mut out, 5, 4);
    }
    for value in [0, addr(0), addr(0), total as u64, total as u64] {
        target.put(&mut out, value, word);
    }
    if !target.wide {
        target.put(&mut out, 5, 4);
    }
    target.put(&mut out, 0x1000, word);
    out.resize(blob_off, 0);

    out.extend_from_slice(b"\xff Go buildinf:");
    out.push(word as u8);
    out.push(u8::from(!target.little));
    target.put(&mut out, addr(headers_off), word);
    target.put(&mut out, addr(headers_off + 2 * word), word);
    out.resize(headers_off, 0);
    target.put(&mut out, addr(version_off), word);
    target.put(&mut out, version.len() as u64, word);
    target.put(&mut out, addr(module_off), word);
    target.put(&mut out, module.len() as u64, word);
    out.extend_from_slice(version);
    out.extend_from_slice(module);
    out.extend_from_slice(names);
    out.resize(shoff, 0);

    // Section headers: null, .go.buildinfo, .shstrtab.
    let section =
        |out: &mut Vec<u8>, name: u64, kind: u64, address: u64, offset: usize, size: usize| {
            target.put(out, name, 4);
            target.put(out, kind, 4);
            target.put(out, 3, word); // flags
            target.put(out, address, word);
            target.put(out, offset as u64, word);
            target.put(out, size as u64, word);
            target.put(out, 0, 4);
            target.put(out, 0, 4);
            target.put(out, 16, word);
            target.put(out, 0, word);
        };
    out.resize(shoff + shentsize, 0);
    section(&mut out, 1, 1, addr(blob_off), blob_off, 32);
    section(&mut out, 15, 3, 0, names_off, names.len());
    assert_eq!(out.len(), total);
    out
}

/// A module text with the 16-byte framing cmd/go puts around it.
fn framed(module: &str) -> Vec<u8> {
    let mut bytes = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
    bytes.extend_from_slice(module.as_bytes());
    bytes.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
    bytes
}

#[test]
fn the_pointer_format_of_go_1_17_and_earlier() {
    // A real binary's strings when there is one, else the same shape written here.
    let real = real_binaries()
        .ok()
        .and_then(|binaries| gobuildinfo::read_file(&binaries[1].2));
    let info = real.unwrap_or(BuildInfo {
        go_version: "go1.17.13".to_string(),
        module_text: "path\tx\nmod\tx\t(devel)\t\nbuild\tDefaultGODEBUG=containermaxprocs=0\n"
            .to_string(),
    });
    for target in [
        Target {
            wide: true,
            little: true,
        },
        Target {
            wide: false,
            little: false,
        },
        Target {
            wide: false,
            little: true,
        },
    ] {
        let image = pointer_format_elf(
            target,
            info.go_version.as_bytes(),
            &framed(&info.module_text),
        );
        assert_eq!(gobuildinfo::parse(&image[..]), Some(info.clone()));
        // Without its framing the module text is not used; the version still is.
        let bare = pointer_format_elf(target, info.go_version.as_bytes(), b"path\tx\n");
        let read = gobuildinfo::parse(&bare[..]).unwrap();
        assert_eq!(
            (read.go_version.as_str(), read.module_text.as_str()),
            (info.go_version.as_str(), "")
        );
        // An empty version is no Go binary; a length past the segment is garbage.
        assert_eq!(
            gobuildinfo::parse(&pointer_format_elf(target, b"", b"")[..]),
            None
        );
        let mut lying = image.clone();
        let at = lying.len() - 1;
        lying.truncate(at);
        assert_eq!(gobuildinfo::parse(&lying[..]), None);
    }
}

/// An image whose reads are counted, to show garbage costs only a few small reads.
struct Counted<'a> {
    bytes: &'a [u8],
    reads: std::cell::Cell<usize>,
    largest: std::cell::Cell<usize>,
}

impl Image for Counted<'_> {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        self.reads.set(self.reads.get() + 1);
        self.largest.set(self.largest.get().max(len));
        self.bytes.read(offset, len)
    }
}

#[test]
fn garbage_gives_nothing_and_costs_little() {
    assert_eq!(gobuildinfo::parse(&b""[..]), None);
    assert_eq!(gobuildinfo::parse(&b"#!/bin/sh\nexec true\n"[..]), None);
    assert_eq!(gobuildinfo::parse(&b"\x7fELF"[..]), None);
    // ELF headers claiming huge tables at huge offsets.
    let mut header = vec![0u8; 64];
    header[..6].copy_from_slice(b"\x7fELF\x02\x01");
    for byte in &mut header[32..64] {
        *byte = 0xff;
    }
    let counted = Counted {
        bytes: &header,
        reads: Default::default(),
        largest: Default::default(),
    };
    assert_eq!(gobuildinfo::parse(&counted), None);
    assert!(counted.largest.get() <= gobuildinfo::MAX_TABLE);

    // The magic with a varint that never ends, in a hand-made image turned inline-format.
    let mut image = pointer_format_elf(
        Target {
            wide: true,
            little: true,
        },
        b"go1.20",
        b"",
    );
    let blob = image
        .windows(14)
        .position(|w| w == b"\xff Go buildinf:")
        .unwrap();
    image[blob + 15] = 0x2;
    for byte in &mut image[blob + 32..blob + 48] {
        *byte = 0xff;
    }
    assert_eq!(gobuildinfo::parse(&image[..]), None);
    // ... and with a length of 2^40.
    image[blob + 32..blob + 38].copy_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    assert_eq!(gobuildinfo::parse(&image[..]), None);

    // Cuts and flips of a real binary: never a panic; a cut before the build info is None.
    let Ok(binaries) = real_binaries() else {
        skip!("no Go toolchain for the real-binary part");
    };
    let bytes = std::fs::read(&binaries[0].2).unwrap();
    let whole = gobuildinfo::parse(&bytes[..]).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let cut = (next() % bytes.len() as u64) as usize;
        let read = gobuildinfo::parse(&bytes[..cut]);
        assert!(
            read.is_none() || read.as_ref() == Some(&whole),
            "cut at {cut}"
        );
        let mut flipped = bytes.clone();
        for _ in 0..8 {
            let at = (next() % 4096) as usize;
            flipped[at] ^= next() as u8;
        }
        let _ = gobuildinfo::parse(&flipped[..]);
    }
}

#[test]
fn read_file_takes_regular_files_only() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(gobuildinfo::read_file(dir.path()), None);
    assert_eq!(gobuildinfo::read_file(&dir.path().join("missing")), None);
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    assert_eq!(gobuildinfo::read_file(&script), None);
    // A FIFO nobody writes to: no wait at the open or the read.
    let fifo = dir.path().join("fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let started = std::time::Instant::now();
    assert_eq!(gobuildinfo::read_file(&fifo), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(gobuildinfo::read_file(Path::new("/dev/zero")), None);
}
