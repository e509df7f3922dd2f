//! The filesystem prefix every detection read goes through.
//!
//! In production the root is `/`. Tests, and `jwrap info --root DIR`, point it at a fake tree
//! that holds copies of `/proc` and `/sys` files (see `fixtures/`). Paths handed to a `Root`
//! are always absolute paths *as the process would see them* (`/sys/fs/cgroup/memory.max`);
//! the root turns them into real paths below its prefix and nothing else in the crate does.

use std::fmt;
use std::io::{self, Read};
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
        let mut file = std::fs::File::open(self.real_path(path)).map_err(unreadable)?;
        // /proc and /sys files report a size of 0, so `fs::read` would start small and grow
        // the buffer several times per file; one page holds nearly all of them at once.
        let mut bytes = Vec::with_capacity(READ_CAPACITY);
        file.read_to_end(&mut bytes).map_err(unreadable)?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotText)
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.real_path(path).exists()
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        self.real_path(path).is_dir()
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
    }
}
