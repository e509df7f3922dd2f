//! The filesystem prefix every detection read goes through.
//!
//! In production the root is `/`. Tests, and `jwrap info --root DIR`, point it at a fake tree
//! that holds copies of `/proc` and `/sys` files (see `fixtures/`). Paths handed to a `Root`
//! are always absolute paths *as the process would see them* (`/sys/fs/cgroup/memory.max`);
//! the root turns them into real paths below its prefix and nothing else in the crate does.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Missing,
    Unreadable(String),
    NotText,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing => write!(f, "missing"),
            ReadError::Unreadable(why) => write!(f, "unreadable ({why})"),
            ReadError::NotText => write!(f, "not text"),
        }
    }
}

/// The first read buffer: a page, which holds nearly every /proc and cgroup file whole.
const READ_CAPACITY: usize = 4096;

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
    pub fn host() -> Root {
        Root::new("/")
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    pub fn is_host(&self) -> bool {
        self.prefix == Path::new("/")
    }

    /// The real path of `path` (an absolute path inside the root).
    ///
    /// `Path::join` with an absolute path would replace the prefix and silently escape a fake
    /// root, so the path is re-assembled from its normal components; `..` cannot climb above
    /// the prefix either.
    pub fn real_path(&self, path: &Path) -> PathBuf {
        // On the machine itself an absolute path that cannot climb is already real. Checked on
        // the bytes: taking paths apart component by component is most of what a read costs
        // jwrap besides the system calls.
        let bytes = path.as_os_str().as_bytes();
        if self.prefix.as_os_str() == "/"
            && bytes.starts_with(b"/")
            && !bytes.windows(2).any(|pair| pair == b"..")
        {
            return path.to_path_buf();
        }
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
    pub fn read(&self, path: &Path) -> Result<String, ReadError> {
        let unreadable = |err: io::Error| match err.kind() {
            io::ErrorKind::NotFound => ReadError::Missing,
            _ => ReadError::Unreadable(short_io_error(&err)),
        };
        let bytes = read_bytes(&self.real_path(path)).map_err(unreadable)?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotText)
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.real_path(path).exists()
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        self.real_path(path).is_dir()
    }
}

/// The whole of a file outside any root (a JDK's `release`), in the fewest system calls.
pub fn read_bytes(path: &Path) -> io::Result<Vec<u8>> {
    read_whole(&open_for_reading(path)?)
}

/// openat(2) itself, close-on-exec. `File::open` costs a second system call on musl (an
/// `fcntl` that re-sets close-on-exec, for kernels older than 2.6.23) for each of the twenty-odd
/// files detection reads.
pub(crate) fn open_for_reading(path: &Path) -> io::Result<File> {
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a NUL-terminated path and plain flags; the descriptor returned is ours alone.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

/// Everything left in `file`. /proc and /sys files report a size of 0, so there is nothing to
/// ask the size for (`read_to_end` on a `File` spends an `fstat` and an `lseek` doing so): read
/// into a page, doubled while full, until the end.
fn read_whole(file: &File) -> io::Result<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::with_capacity(READ_CAPACITY);
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity());
        }
        let spare = bytes.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes into the spare capacity.
        let count = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match count {
            0 => return Ok(bytes),
            // SAFETY: the kernel initialised `count` more bytes, within the capacity.
            count if count > 0 => unsafe { bytes.set_len(bytes.len() + count as usize) },
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// `Permission denied`, not `Permission denied (os error 13)`.
fn short_io_error(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_stay_below_the_prefix() {
        let root = Root::new("/tmp/fake");
        assert_eq!(
            root.real_path(Path::new("/sys/fs/cgroup/memory.max")),
            PathBuf::from("/tmp/fake/sys/fs/cgroup/memory.max")
        );
        assert_eq!(
            root.real_path(Path::new("/../../etc/passwd")),
            PathBuf::from("/tmp/fake/etc/passwd")
        );
        assert_eq!(
            root.real_path(Path::new("/sys/fs/cgroup/a/../b")),
            PathBuf::from("/tmp/fake/sys/fs/cgroup/b")
        );
    }

    #[test]
    fn the_host_root_is_slash() {
        let root = Root::host();
        assert!(root.is_host());
        assert_eq!(
            root.real_path(Path::new("/proc/self/cgroup")),
            PathBuf::from("/proc/self/cgroup")
        );
        // `..` is resolved the same way as below any other prefix.
        assert_eq!(
            root.real_path(Path::new("/sys/fs/cgroup/a/../b")),
            PathBuf::from("/sys/fs/cgroup/b")
        );
        assert_eq!(
            root.real_path(Path::new("/../../proc/meminfo")),
            PathBuf::from("/proc/meminfo")
        );
    }

    #[test]
    fn files_are_read_whole_and_failures_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        std::fs::create_dir(dir.path().join("proc")).unwrap();
        // Three pages and a bit: the buffer grows twice.
        let long: String = (0..1500).map(|line| format!("{line:07}\n")).collect();
        std::fs::write(dir.path().join("proc/long"), &long).unwrap();
        std::fs::write(dir.path().join("proc/empty"), "").unwrap();
        std::fs::write(dir.path().join("proc/binary"), [0xff, 0xfe, 0]).unwrap();
        assert_eq!(root.read(Path::new("/proc/long")).unwrap(), long);
        assert_eq!(root.read(Path::new("/proc/empty")).unwrap(), "");
        assert_eq!(
            root.read(Path::new("/proc/binary")),
            Err(ReadError::NotText)
        );
        assert_eq!(root.read(Path::new("/proc/none")), Err(ReadError::Missing));
        assert_eq!(
            root.read(Path::new("/proc")),
            Err(ReadError::Unreadable("Is a directory".to_string()))
        );
    }

    #[test]
    fn kernel_files_that_report_size_0_are_read_whole() {
        let text = Root::host()
            .read(Path::new("/proc/self/mountinfo"))
            .unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string("/proc/self/mountinfo").unwrap()
        );
    }
}
