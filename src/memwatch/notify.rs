//! Being woken as the usage nears the limit, between samples: a fill that takes less than the
//! pace (a JVM filling 256 MiB in a third of a second) still gets a sample close to the kill.
//!
//! * v1: usage thresholds (`cgroup.event_control` with an eventfd on `memory.usage_in_bytes`),
//!   at `THRESHOLDS` of the limit; the kernel signals the eventfd when the usage crosses one.
//! * v2: `memory.events` is pollable: the kernel wakes a reader when a count changes, among
//!   them `max` (the usage reached `memory.max`, right before an out-of-memory kill) and
//!   `high`.
//!
//! Both need nothing but the cgroup's own files. Where they cannot be had (a read-only cgroup
//! mount refuses `cgroup.event_control`), the pace alone remains.

use crate::init::Wake;
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

/// The shares of the limit (per mille) at which v1 wakes the watch.
const THRESHOLDS: [u64; 5] = [500, 800, 900, 950, 980];

/// An armed notifier.
#[derive(Debug)]
pub enum Notifier {
    V1 {
        eventfd: EventFd,
        /// Kept open: the registration refers to it.
        _usage: File,
    },
    V2 {
        events: File,
    },
}

impl Notifier {
    /// v1 thresholds at `THRESHOLDS` of `limit` on the cgroup directory `dir` (a real path).
    ///
    /// # Errors
    /// The system's reason when the files cannot be opened or written.
    pub fn v1(dir: &Path, limit: u64) -> std::io::Result<Notifier> {
        let usage = File::open(dir.join("memory.usage_in_bytes"))?;
        let eventfd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let mut control = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.event_control"))?;
        for per_mille in THRESHOLDS {
            let bytes = limit / 1000 * per_mille;
            let line = format!("{} {} {bytes}", eventfd.as_raw_fd(), usage.as_raw_fd());
            control.write_all(line.as_bytes())?;
        }
        Ok(Notifier::V1 {
            eventfd,
            _usage: usage,
        })
    }

    /// v2: `memory.events` of the cgroup directory `dir` (a real path), read once so that only
    /// a later change wakes.
    ///
    /// # Errors
    /// The system's reason when the file cannot be opened or read.
    pub fn v2(dir: &Path) -> std::io::Result<Notifier> {
        let mut events = File::open(dir.join("memory.events"))?;
        let mut text = String::new();
        events.read_to_string(&mut text)?;
        Ok(Notifier::V2 { events })
    }

    /// The descriptor to poll, and for what.
    #[must_use]
    pub fn fd(&self) -> (BorrowedFd<'_>, Wake) {
        match self {
            Notifier::V1 { eventfd, .. } => (eventfd.as_fd(), Wake::Readable),
            Notifier::V2 { events } => (events.as_fd(), Wake::Priority),
        }
    }

    /// After a wake: take the event, so that the next one wakes again.
    pub fn rearm(&mut self) {
        match self {
            Notifier::V1 { eventfd, .. } => {
                let _ = eventfd.read();
            }
            Notifier::V2 { events } => {
                let mut text = String::new();
                let _ = events.seek(SeekFrom::Start(0));
                let _ = events.read_to_string(&mut text);
            }
        }
    }
}
