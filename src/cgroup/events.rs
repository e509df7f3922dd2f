//! The memory cgroup's record of out-of-memory kills, read before COMMAND starts and after it
//! ended, so that an OOM kill can be told from any other SIGKILL (see `oom`).
//!
//! * v2 `memory.events` (`oom_kill N`) counts the processes of this cgroup *and its descendants*
//!   that any OOM killer killed, whatever limit ran out: this cgroup's, a parent's (a Kubernetes
//!   pod's) or the host's. The file is hierarchical unless cgroup2 is mounted with
//!   `memory_localevents`. See the kernel's Documentation/admin-guide/cgroup-v2.rst.
//! * v1 `memory.oom_control` has an `oom_kill N` line since Linux 4.13. v1 counts a kill only in
//!   the victim's own cgroup, never in its parents (`memcg_memory_event` stops at the first
//!   level when the memory controller is not on the unified hierarchy), so the counter is read
//!   in the cgroup COMMAND runs in: the process's own memory cgroup, which COMMAND inherits
//!   from jwrap. A command that moves itself into a cgroup of its own is not seen there.
//! * Before Linux 4.13, v1's only trace is `memory.failcnt` (charges refused at the limit)
//!   together with `memory.max_usage_in_bytes` at the limit: a strong hint, not proof.
//!
//! The peak usage comes along for the explanation: v2 `memory.peak` (Linux 5.19+), v1
//! `memory.max_usage_in_bytes`; both cover the cgroup's whole life, which in a container is the
//! command's.

use super::parse;
use super::{Detection, Reader};
use crate::root::Root;

const MEMORY_EVENTS: &str = "memory.events";
const MEMORY_PEAK: &str = "memory.peak";
const MEMORY_OOM_CONTROL: &str = "memory.oom_control";
const MEMORY_FAILCNT: &str = "memory.failcnt";
const MEMORY_MAX_USAGE: &str = "memory.max_usage_in_bytes";
/// The key of the kill counter in both `memory.events` and `memory.oom_control`.
const OOM_KILL: &str = "oom_kill";

/// A number read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub value: u64,
    /// The file, as the process sees it.
    pub path: String,
}

/// The memory cgroup's counters at one moment. A field is `None` when this kernel or cgroup
/// version does not keep it (or its file could not be read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEvents {
    /// Processes killed by the OOM killer: v2 `memory.events`, v1 `memory.oom_control`.
    pub oom_kills: Option<Count>,
    /// v1 `memory.failcnt`: how often a charge hit the limit.
    pub limit_hits: Option<Count>,
    /// The highest usage recorded, in bytes: v2 `memory.peak`, v1 `memory.max_usage_in_bytes`.
    pub peak: Option<Count>,
}

/// `oom_kill N` in the text of `memory.events` (v2) or `memory.oom_control` (v1, Linux 4.13+):
///
/// ```text
/// oom_kill_disable 0
/// under_oom 0
/// oom_kill 1
/// ```
#[must_use]
pub fn oom_kills(text: &str) -> Option<u64> {
    parse::keyed_u64(text, OOM_KILL)
}

/// The counters of the memory cgroup detection read (its mount point when the process's own
/// directory is not there). `None` without a memory controller.
#[must_use]
pub fn read(root: &Root, detection: &Detection) -> Option<MemoryEvents> {
    read_counters(root, detection, Moment::After)
}

/// What `read` gives that the explanation compares with: the kill counter, or where the kernel
/// keeps none, the limit hits. Read before COMMAND exists, so that any kill during the run
/// shows as a rise; the peak is left for afterwards, where it is shown.
#[must_use]
pub fn read_baseline(root: &Root, detection: &Detection) -> Option<MemoryEvents> {
    read_counters(root, detection, Moment::Before)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Moment {
    Before,
    After,
}

fn read_counters(root: &Root, detection: &Detection, moment: Moment) -> Option<MemoryEvents> {
    let reader = Reader::new(root);
    let placement = detection.layout.memory.as_ref()?;
    let dir = &placement.dir;
    let count = |file: &str, parse_text: fn(&str) -> Option<u64>| {
        let path = format!("{dir}/{file}");
        let value = parse_text(&reader.read(&path).ok()?)?;
        Some(Count { value, path })
    };
    let (kills_file, peak_file) = if placement.unified {
        (MEMORY_EVENTS, MEMORY_PEAK)
    } else {
        (MEMORY_OOM_CONTROL, MEMORY_MAX_USAGE)
    };
    let oom_kills = count(kills_file, oom_kills);
    // v1 without a kill counter (before Linux 4.13) leaves only the limit hits.
    let limit_hits = (!placement.unified && (moment == Moment::After || oom_kills.is_none()))
        .then(|| count(MEMORY_FAILCNT, parse::single_u64))
        .flatten();
    let peak = (moment == Moment::After)
        .then(|| count(peak_file, parse::single_u64))
        .flatten();
    Some(MemoryEvents {
        oom_kills,
        limit_hits,
        peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup;

    use crate::cgroup::write_test_file as write;

    #[test]
    fn the_kill_counter_of_either_version() {
        let v2 = "low 0\nhigh 12\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kills(v2), Some(1));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(oom_kills(v1), Some(3));
        // Before Linux 4.13 the v1 file has no counter.
        assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 0\n"), None);
        // `oom_kill_disable` and `oom_group_kill` are other keys, not prefixes of it.
        assert_eq!(oom_kills("oom_kill_disable 1\noom_group_kill 4\n"), None);
        assert_eq!(oom_kills("oom_kill x\n"), None);
    }

    #[test]
    fn v2_reads_memory_events_and_peak_in_the_process_cgroup() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        write(
            dir,
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        write(dir, "proc/self/cgroup", "0::/app\n");
        write(dir, "proc/meminfo", "MemTotal: 16000000 kB\n");
        write(dir, "sys/fs/cgroup/app/memory.max", "268435456\n");
        write(
            dir,
            "sys/fs/cgroup/app/memory.events",
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
        );
        write(dir, "sys/fs/cgroup/app/memory.peak", "268435456\n");
        let root = Root::new(dir);
        let detection = cgroup::detect(&root);
        let events = read(&root, &detection).unwrap();
        assert_eq!(
            events.oom_kills,
            Some(Count {
                value: 1,
                path: "/sys/fs/cgroup/app/memory.events".to_string()
            })
        );
        assert_eq!(events.peak.map(|p| p.value), Some(268_435_456));
        assert_eq!(events.limit_hits, None);
        let baseline = read_baseline(&root, &detection).unwrap();
        assert_eq!(baseline.oom_kills, events.oom_kills);
        assert_eq!((baseline.limit_hits, baseline.peak), (None, None));
    }

    #[test]
    fn v1_reads_oom_control_failcnt_and_max_usage() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        write(
            dir,
            "proc/self/mountinfo",
            "40 30 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        write(dir, "proc/self/cgroup", "4:memory:/docker/abc\n");
        write(dir, "proc/meminfo", "MemTotal: 16000000 kB\n");
        let cg = "sys/fs/cgroup/memory/docker/abc";
        write(dir, &format!("{cg}/memory.limit_in_bytes"), "268435456\n");
        write(
            dir,
            &format!("{cg}/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        write(dir, &format!("{cg}/memory.failcnt"), "17\n");
        write(
            dir,
            &format!("{cg}/memory.max_usage_in_bytes"),
            "268435456\n",
        );
        let root = Root::new(dir);
        let events = read(&root, &cgroup::detect(&root)).unwrap();
        assert_eq!(events.oom_kills.map(|c| c.value), Some(2));
        assert_eq!(
            events.limit_hits,
            Some(Count {
                value: 17,
                path: "/sys/fs/cgroup/memory/docker/abc/memory.failcnt".to_string()
            })
        );
        assert_eq!(events.peak.map(|p| p.value), Some(268_435_456));

        // The baseline is the kill counter alone while there is one, the limit hits without.
        let detection = cgroup::detect(&root);
        let baseline = read_baseline(&root, &detection).unwrap();
        assert_eq!(baseline.oom_kills.map(|c| c.value), Some(2));
        assert_eq!((baseline.limit_hits, baseline.peak), (None, None));
        write(
            dir,
            &format!("{cg}/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\n",
        );
        let baseline = read_baseline(&root, &detection).unwrap();
        assert_eq!(baseline.oom_kills, None);
        assert_eq!(baseline.limit_hits.map(|c| c.value), Some(17));
        assert_eq!(baseline.peak, None);
    }

    #[test]
    fn a_missing_own_directory_falls_back_to_the_mount_point_as_detection_does() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        write(
            dir,
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        write(dir, "proc/self/cgroup", "0::/moved-away\n");
        write(dir, "proc/meminfo", "MemTotal: 16000000 kB\n");
        write(dir, "sys/fs/cgroup/memory.events", "oom_kill 5\n");
        let root = Root::new(dir);
        let events = read(&root, &cgroup::detect(&root)).unwrap();
        assert_eq!(
            events.oom_kills.map(|c| c.path),
            Some("/sys/fs/cgroup/memory.events".to_string())
        );
        assert_eq!(events.peak, None);
    }

    #[test]
    fn no_memory_controller_no_events() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "proc/self/mountinfo", "");
        write(root.path(), "proc/self/cgroup", "");
        let root = Root::new(root.path());
        assert_eq!(read(&root, &cgroup::detect(&root)), None);
    }
}
