//! The check of what ran: once COMMAND is up, find the JVMs among its processes, read what each
//! really runs with from its performance data (`hsperf`: collector, heap, options; passive, no
//! signal, no attach), and say at once, in one warning per JVM, where that differs from jwrap's
//! plan: another collector than the budget was for, a heap larger than the budget, a JVM that
//! got none of jwrap's flags (a child JVM forked by a launcher). The last reading of each JVM
//! is kept for the explanation of an out-of-memory kill.
//!
//! `compare` is pure; `Watch` does the looking, on a bounded schedule the init calls it on.

use super::budget::Collector;
use super::hsperf::{self, PerfData};
use crate::init::Periodic;
use crate::log;
use crate::units::MIB;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What jwrap planned for the JVM(s) COMMAND runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The collectors the budget allowed for.
    pub collectors: Vec<Collector>,
    /// The heap the budget leaves, MiB (`None` without a memory limit).
    pub budget_heap_mib: Option<u64>,
    /// jwrap's `-Xmx`, when it delivered one.
    pub jwrap_heap_flag: Option<String>,
}

/// What one JVM runs with, from its performance data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub pid: i32,
    /// Its program name (`/proc/PID/comm`), e.g. `java`.
    pub name: String,
    pub collector: Collector,
    /// `HotSpot`'s name for it.
    pub collector_name: String,
    pub max_heap_mib: Option<u64>,
    /// `java.rt.vmArgs`.
    pub jvm_args: String,
}

impl Observed {
    /// `None` until the JVM has finished starting (`sun.rt.createVmEndTime` set): it adds and
    /// fills entries while it starts, and its options may be read half-written before that.
    #[must_use]
    pub fn from_perf(pid: i32, name: String, data: &PerfData) -> Option<Observed> {
        if data
            .long("sun.rt.createVmEndTime")
            .is_none_or(|end| end <= 0)
        {
            return None;
        }
        let collector_name = data.collector_name()?.to_string();
        let jvm_args = data.jvm_args()?.to_string();
        Some(Observed {
            pid,
            name,
            collector: Collector::from_perf_name(&collector_name),
            collector_name,
            max_heap_mib: data.max_heap().map(|b| b / MIB),
            jvm_args,
        })
    }

    /// The option that set its heap, if one did: the last `-Xmx` or `-XX:MaxHeapSize`.
    #[must_use]
    pub fn heap_option(&self) -> Option<&str> {
        self.jvm_args
            .split_whitespace()
            .rev()
            .find(|w| w.starts_with("-Xmx") || w.starts_with("-XX:MaxHeapSize="))
    }
}

/// Heaps are rounded up to the collector's alignment (G1: its region size, up to 32 MiB on
/// large heaps; 1–4 MiB in containers of a few GiB): not a difference worth a warning.
const HEAP_SLACK_MIB: u64 = 4;

/// How `observed` differs from the plan, in one line; `None` when it runs as planned.
#[must_use]
pub fn compare(expected: &Expected, observed: &Observed) -> Option<String> {
    let mut differences = Vec::new();
    if !expected.collectors.contains(&observed.collector) {
        let planned: Vec<&str> = expected.collectors.iter().map(|c| c.name()).collect();
        differences.push(format!(
            "it runs {} ({}), but the heap budget was for {}",
            observed.collector.name(),
            observed.collector_name,
            planned.join(" or ")
        ));
    }
    if let (Some(heap), Some(budget)) = (observed.max_heap_mib, expected.budget_heap_mib) {
        if heap > budget + HEAP_SLACK_MIB {
            let from = observed
                .heap_option()
                .map(|o| format!(" (from {o})"))
                .unwrap_or_default();
            differences.push(format!(
                "its heap may grow to {heap} MiB{from}, above the {budget} MiB the memory \
                 limit leaves beside its other memory: the kernel may kill it before it can \
                 throw an OutOfMemoryError"
            ));
        }
    }
    if let Some(flag) = &expected.jwrap_heap_flag {
        let has_it = observed.jvm_args.split_whitespace().any(|w| w == flag);
        if !has_it && observed.heap_option().is_none() {
            differences.push(format!(
                "it got none of jwrap's flags ({flag} is not among its options): a JVM started \
                 by another without JAVA_TOOL_OPTIONS or the launcher's options (Jetty's \
                 --exec, a forked child) sizes itself"
            ));
        }
    }
    (!differences.is_empty()).then(|| {
        format!(
            "{} (pid {}) does not run as planned: {}",
            observed.name,
            observed.pid,
            differences.join("; ")
        )
    })
}

/// How often the watch looks, and for how long: JVMs start in the first seconds (a launcher's
/// forked child a little later); after that nothing is read again.
const FIRST_LOOK: Duration = Duration::from_millis(300);
const LOOK_EVERY: Duration = Duration::from_millis(700);
const WATCH_FOR: Duration = Duration::from_secs(12);
/// At most this many processes are looked at per round: a bound on one round's cost.
const MAX_PROCESSES: usize = 4096;

/// The bounded watch over COMMAND's processes.
#[derive(Debug)]
pub struct Watch {
    expected: Expected,
    /// `/proc` and `/tmp`, as this process sees them.
    proc_dir: PathBuf,
    tmp_dir: PathBuf,
    started: Instant,
    next: Option<Instant>,
    /// JVMs already read (each is reported once).
    seen: HashSet<i32>,
    /// The last reading of every JVM found, in the order found.
    pub observed: Vec<Observed>,
}

impl Watch {
    #[must_use]
    pub fn new(expected: Expected) -> Watch {
        let now = Instant::now();
        Watch {
            expected,
            proc_dir: PathBuf::from("/proc"),
            tmp_dir: PathBuf::from("/tmp"),
            started: now,
            next: Some(now + FIRST_LOOK),
            seen: HashSet::new(),
            observed: Vec::new(),
        }
    }

    /// Look at `child` and its descendants; returns the warnings to show (at most one per JVM).
    pub fn look(&mut self, child: i32) -> Vec<String> {
        let now = Instant::now();
        self.next = (now.duration_since(self.started) < WATCH_FOR).then(|| now + LOOK_EVERY);
        let mut warnings = Vec::new();
        for pid in self.descendants(child) {
            if self.seen.contains(&pid) {
                continue;
            }
            let Some(path) = hsperf::find(&self.tmp_dir, pid) else {
                continue;
            };
            let Ok(data) = hsperf::read(&path) else {
                continue;
            };
            let name = std::fs::read_to_string(self.proc_dir.join(pid.to_string()).join("comm"))
                .map_or_else(|_| "java".to_string(), |n| n.trim().to_string());
            // Not initialised far enough yet (no collector): the next look reads it.
            let Some(observed) = Observed::from_perf(pid, name, &data) else {
                continue;
            };
            self.seen.insert(pid);
            if let Some(warning) = compare(&self.expected, &observed) {
                warnings.push(warning);
            }
            self.observed.push(observed);
        }
        warnings
    }

    /// `child` and every process below it (from each process's parent in `/proc/PID/stat`).
    fn descendants(&self, child: i32) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(&self.proc_dir) else {
            return vec![child];
        };
        let parents: Vec<(i32, i32)> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .take(MAX_PROCESSES)
            .filter_map(|pid| {
                let stat =
                    std::fs::read_to_string(self.proc_dir.join(pid.to_string()).join("stat"))
                        .ok()?;
                // The command name may hold spaces and parentheses: fields follow the last ')'.
                let after = &stat[stat.rfind(')')? + 1..];
                let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
                Some((pid, ppid))
            })
            .collect();
        let mut tree = vec![child];
        let mut index = 0;
        while index < tree.len() {
            let parent = tree[index];
            tree.extend(
                parents
                    .iter()
                    .filter(|(_, ppid)| *ppid == parent)
                    .map(|(pid, _)| *pid),
            );
            index += 1;
        }
        tree
    }

    /// The JVM an out-of-memory explanation is about: the one with the largest heap.
    #[must_use]
    pub fn main_jvm(&self) -> Option<&Observed> {
        self.observed.iter().max_by_key(|o| o.max_heap_mib)
    }
}

impl Periodic for Watch {
    fn due(&self) -> Option<Instant> {
        self.next
    }

    fn run(&mut self, child: i32) {
        for warning in self.look(child) {
            log::warn(&warning);
        }
    }
}
