//! The filesystem prefix every detection read goes through.
//!
//! In production the root is `/`. Tests, and `jwrap info --root DIR`, point it at a fake tree
//! that holds copies of `/proc` and `/sys` files (see `fixtures/`). Paths handed to a `Root`
//! are always absolute paths *as the process would see them* (`/sys/fs/cgroup/memory.max`);
//! the root turns them into real paths below its prefix and nothing else in the crate does.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The largest file jwrap reads: 4 MiB. The largest the kernel writes at the paths jwrap reads
/// is `/proc/self/mountinfo`, about 150 bytes a mount: the cap leaves room for some 28 000
/// mounts, and an `@argfile` with a very long class path. Anything larger is refused rather than
/// read (reading 200 MB costs seconds and a gigabyte of memory while every signal is blocked).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Why a file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Missing,
    Unreadable(String),
    /// A FIFO, a device, a socket or a directory: reading it could block or never end.
    NotRegular(&'static str),
    /// Larger than `MAX_FILE_BYTES`.
    TooLarge,
    NotText,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing => write!(f, "missing"),
            ReadError::Unreadable(why) => write!(f, "unreadable ({why})"),
            ReadError::NotRegular(kind) => write!(f, "not a regular file ({kind})"),
            ReadError::TooLarge => write!(f, "larger than {} MiB", MAX_FILE_BYTES >> 20),
            ReadError::NotText => write!(f, "not text"),
        }
    }
}

impl std::error::Error for ReadError {}

/// A filesystem prefix: `/` for the real machine, or a fake root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    prefix: PathBuf,
}

impl Root {
    pub fn new(prefix: impl Into<PathBuf>) -> Root {
        Root {
            prefix: prefix.into(),
        }
    }

    /// The machine jwrap runs on.
    #[must_use]
    pub fn host() -> Root {
        Root::new("/")
    }

    #[must_use]
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The real path of `path` (an absolute path inside the root).
    ///
    /// `Path::join` with an absolute path would replace the prefix and silently escape a fake
    /// root, so the path is re-assembled from its normal components; `..` cannot climb above
    /// the prefix either.
    #[must_use]
    pub fn real_path(&self, path: &Path) -> PathBuf {
        let mut real = self.prefix.clone();
        let mut depth = 0usize;
        for component in path.components() {
            match component {
                Component::Normal(part) => {
                    real.push(part);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    real.pop();
                    depth -= 1;
                }
                _ => {}
            }
        }
        real
    }

    /// The whole file as text.
    ///
    /// # Errors
    /// As `read_bytes`, and `NotText` when the file is not UTF-8.
    pub fn read(&self, path: &Path) -> Result<String, ReadError> {
        read_text(&self.real_path(path))
    }

    #[must_use]
    pub fn is_dir(&self, path: &Path) -> bool {
        self.real_path(path).is_dir()
    }
}

/// The whole of a file outside any root (a JDK's `release`, an `@argfile`), as text.
///
/// # Errors
/// As `read_bytes`, and `NotText` when the file is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path)?).map_err(|_| ReadError::NotText)
}

/// The whole of a regular file of at most `MAX_FILE_BYTES`.
///
/// # Errors
/// As `open_regular`; `TooLarge` above the cap; `Unreadable` when a read fails.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| ReadError::Unreadable(short_io_error(&err)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

/// `path` opened for reading, if it is a regular file. A FIFO is never opened: its open would
/// wait for a writer, and even a non-blocking open releases a writer waiting on it, whose data
/// is then lost to the program that should read it (an `@argfile` made by `<(…)`). So the path
/// is checked with `stat` first; the file is then opened without blocking and checked again with
/// `fstat`, in case something else was put there in between.
///
/// # Errors
/// `Missing`, `Unreadable` (with the system's reason), or `NotRegular` with what it is.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let io_error = |err: io::Error| match err.kind() {
        io::ErrorKind::NotFound => ReadError::Missing,
        _ => ReadError::Unreadable(short_io_error(&err)),
    };
    regular(std::fs::metadata(path).map_err(io_error)?.file_type())?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    regular(file.metadata().map_err(io_error)?.file_type())?;
    Ok(file)
}

/// `Ok` for a regular file, else what it is.
fn regular(kind: std::fs::FileType) -> Result<(), ReadError> {
    let irregular = if kind.is_file() {
        return Ok(());
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    };
    Err(ReadError::NotRegular(irregular))
}

/// `Permission denied`, not `Permission denied (os error 13)`.
fn short_io_error(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}
