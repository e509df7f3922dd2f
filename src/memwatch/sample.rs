//! One look at the container's memory: what a sample holds, and the pure parsers of the files
//! it is read from.
//!
//! * the memory cgroup: its usage and limit, `memory.stat` (anonymous memory, page cache,
//!   shared memory, kernel memory, socket buffers), and on v2 `memory.events` and the memory
//!   pressure;
//! * each process of the cgroup (`cgroup.procs`): `/proc/PID/status` (resident anonymous, file
//!   and shared memory, swap, threads), parsed by procfs-core;
//! * a JVM among them: its performance data (`java::hsperf`): the heap's committed and used
//!   size and its maximum, metaspace, compiled code, live threads and loaded classes.
//!
//! Every byte count is in bytes; a field is `None` where this kernel or process does not say.

use crate::java::hsperf::PerfData;
use procfs_core::FromBufRead;
use procfs_core::process::Status;
use serde::Serialize;

/// What one sample saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Milliseconds since the command started.
    pub t_ms: u64,
    /// The cgroup's memory use (v2 `memory.current`, v1 `memory.usage_in_bytes`).
    pub usage_bytes: u64,
    /// The lowest limit read from the files watched; `None` without a limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    #[serde(flatten)]
    pub stat: Stat,
    /// v2 `memory.events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Events>,
    /// v2 `memory.pressure`: the share of the last 10 s in which some task waited for memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_some_avg10: Option<f64>,
    /// The largest processes (and the JVM), largest first.
    pub processes: Vec<Process>,
    /// The JVM that holds the most memory, when one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jvm: Option<Jvm>,
}

/// The cgroup's `memory.stat`, for the whole cgroup and its descendants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stat {
    /// Anonymous memory: heaps, stacks, `malloc` (v2 `anon`, v1 `total_rss`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anon_bytes: Option<u64>,
    /// Page cache, shared memory included (v2 `file`, v1 `total_cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    /// tmpfs and shared memory (v2 `shmem`, v1 `total_shmem`): part of `file`, but not freed
    /// without swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shmem_bytes: Option<u64>,
    /// Kernel memory: v2 `kernel` (or its parts on kernels before 5.18); v1 keeps no total, so
    /// it is the usage less anonymous memory and page cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_bytes: Option<u64>,
    /// Socket buffers (v2 `sock`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sock_bytes: Option<u64>,
}

/// v2 `memory.events`: how often the cgroup hit each bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Events {
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
}

/// One process, from `/proc/PID/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: i32,
    pub name: String,
    pub rss_anon_bytes: u64,
    pub rss_file_bytes: u64,
    pub rss_shmem_bytes: u64,
    pub swap_bytes: u64,
    pub threads: u64,
}

impl Process {
    /// What the process holds that only its end gives back: anonymous memory and swap.
    #[must_use]
    pub fn private_bytes(&self) -> u64 {
        self.rss_anon_bytes.saturating_add(self.swap_bytes)
    }
}

/// A JVM, from its performance data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jvm {
    pub pid: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_committed_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_max_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metaspace_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<u64>,
}

impl Jvm {
    #[must_use]
    pub fn from_perf(pid: i32, data: &PerfData) -> Jvm {
        Jvm {
            pid,
            heap_committed_bytes: data.heap_committed(),
            heap_used_bytes: data.heap_used(),
            heap_max_bytes: data.max_heap(),
            metaspace_bytes: data.metaspace_committed(),
            code_bytes: data.compiled_code(),
            threads: data.live_threads(),
            classes: data.loaded_classes(),
        }
    }
}

/// The value of `key` in a `key value` file (`memory.stat`, `memory.events`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

/// `memory.stat`: v2 (`unified`) or v1's hierarchical `total_*` lines.
#[must_use]
pub fn memory_stat(text: &str, unified: bool) -> Stat {
    if unified {
        // `kernel` since Linux 5.18; before, the sum of the parts the kernel listed.
        let kernel = keyed(text, "kernel").or_else(|| {
            let parts = ["kernel_stack", "pagetables", "percpu", "sock", "slab"];
            let found: Vec<u64> = parts.iter().filter_map(|k| keyed(text, k)).collect();
            (!found.is_empty()).then(|| found.iter().sum())
        });
        Stat {
            anon_bytes: keyed(text, "anon"),
            file_bytes: keyed(text, "file"),
            shmem_bytes: keyed(text, "shmem"),
            kernel_bytes: kernel,
            sock_bytes: keyed(text, "sock"),
        }
    } else {
        Stat {
            anon_bytes: keyed(text, "total_rss"),
            file_bytes: keyed(text, "total_cache"),
            shmem_bytes: keyed(text, "total_shmem"),
            kernel_bytes: None,
            sock_bytes: None,
        }
    }
}

/// v2 `memory.events`; `None` when it has none of its keys.
#[must_use]
pub fn memory_events(text: &str) -> Option<Events> {
    let high = keyed(text, "high");
    let max = keyed(text, "max");
    let oom = keyed(text, "oom");
    let oom_kill = keyed(text, "oom_kill");
    (high.is_some() || max.is_some() || oom.is_some() || oom_kill.is_some()).then(|| Events {
        high: high.unwrap_or(0),
        max: max.unwrap_or(0),
        oom: oom.unwrap_or(0),
        oom_kill: oom_kill.unwrap_or(0),
    })
}

/// `some avg10=1.25 avg60=…` in a pressure file: 1.25.
#[must_use]
pub fn pressure_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|line| line.starts_with("some "))?;
    let value = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("avg10="))?;
    value.parse().ok().filter(|v: &f64| v.is_finite())
}

/// The process ids in `cgroup.procs`, at most `max` of them.
#[must_use]
pub fn pids(text: &str, max: usize) -> Vec<i32> {
    text.lines()
        .filter_map(|line| line.trim().parse().ok())
        .filter(|pid: &i32| *pid > 0)
        .take(max)
        .collect()
}

/// `/proc/PID/status`, by procfs-core's parser. `None` for text it cannot read (a process
/// that ended while it was read leaves an empty file).
#[must_use]
pub fn process_status(pid: i32, text: &str) -> Option<Process> {
    let status = Status::from_buf_read(text.as_bytes()).ok()?;
    let kib = |value: Option<u64>| value.unwrap_or(0).saturating_mul(1024);
    Some(Process {
        pid,
        name: status.name,
        rss_anon_bytes: kib(status.rssanon),
        rss_file_bytes: kib(status.rssfile),
        rss_shmem_bytes: kib(status.rssshmem),
        swap_bytes: kib(status.vmswap),
        threads: status.threads,
    })
}
