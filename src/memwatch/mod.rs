//! The memory watch: while COMMAND runs, jwrap samples the container's memory, cheaply and
//! passively (files only: no signal, no attach), keeps the last samples, follows a change of
//! the memory limit, and when the kernel kills the command, says which region filled the
//! container (`blame`).
//!
//! The pace follows the usage: every 1 s below half the limit, then 500 and 250 ms as it nears
//! the limit (100 ms above 90 % without the kernel's notifications; 2 s without a limit). A sample reads about a dozen small files; the cost
//! is in BENCHMARKS.md ("Memory watch").
//!
//! `Sampler` is the init's `Periodic`: the loop calls it at its times and knows nothing else.

pub mod blame;
pub mod notify;
pub mod sample;

use crate::cgroup::parse::{self, LimitValue};
use crate::cgroup::{Detection, UNLIMITED_FLOOR};
use crate::init::{Periodic, Wake};
use crate::java::budget::Collector;
use crate::java::hsperf;
use crate::java::ranwith::Observed;
use crate::limits::Limit;
use crate::log;
use crate::root::Root;
use crate::units::{MIB, human_bytes};
use notify::Notifier;
use sample::{Jvm, Process, Sample};
use std::collections::{HashMap, VecDeque};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Samples kept at the full pace: at 100 ms, the last 12 s.
const RECENT: usize = 120;
/// Older samples kept, one per `OLDER_EVERY`: the last 10 minutes.
const OLDER: usize = 120;
const OLDER_EVERY: Duration = Duration::from_secs(5);
/// Processes read per sample, and kept in it.
const MAX_PROCESSES_READ: usize = 256;
const MAX_PROCESSES_KEPT: usize = 8;

/// What jwrap sized the command for, to judge a change of the limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sizing {
    /// The limit the sizing used (bytes).
    pub limit_bytes: Option<u64>,
    /// The JVM's heap budget (MiB), when jwrap sized a JVM.
    pub heap_mib: Option<u64>,
    /// The JDK's feature release, when known.
    pub jdk_feature: Option<u32>,
}

/// Where the samples are read.
#[derive(Debug, Clone)]
struct Files {
    dir: String,
    unified: bool,
    /// The limit files followed: the command's own cgroup's and the one the limit came from.
    limits: Vec<String>,
}

/// What a process is to the watch.
#[derive(Debug, Clone)]
enum Known {
    Jvm(PathBuf),
    /// No performance data when first looked at (since then): a JVM creates its file a few
    /// milliseconds into its start, and a shell may exec `java` later, so it is looked at again
    /// for `JVM_START`.
    Other(Instant),
}

/// The performance data entries a sample uses (name prefixes): the heap's generations, the
/// collector, metaspace, compiled code, threads, classes, the options and the start's end.
const PERF_ENTRIES: [&[u8]; 8] = [
    b"sun.gc.generation.",
    b"sun.gc.collector.0.name",
    b"sun.gc.metaspace.capacity",
    b"sun.ci.nmethodSize",
    b"java.threads.live",
    b"java.cls.",
    b"java.rt.vmArgs",
    b"sun.rt.createVmEndTime",
];

/// A JVM's performance data is read at most this often: its counters change at collections,
/// and reading it is most of a sample's cost.
const JVM_EVERY: Duration = Duration::from_millis(500);
/// ... unless the usage moved by this much since.
const JVM_AGAIN_AFTER: u64 = 4 * MIB;

/// The first sample, after the child started: the kernel's notifications cover a fill
/// before it.
const FIRST_SAMPLE: Duration = Duration::from_millis(50);

/// How long a process without performance data is looked at again.
const JVM_START: Duration = Duration::from_secs(30);

/// The watch.
#[derive(Debug)]
pub struct Sampler {
    root: Root,
    files: Files,
    tmp: PathBuf,
    own_pid: i32,
    started: Instant,
    next: Option<Instant>,
    recent: VecDeque<Sample>,
    older: VecDeque<Sample>,
    last_older: Option<Instant>,
    known: HashMap<i32, Known>,
    sizing: Sizing,
    /// The limit at the last sample, and the file it came from.
    limit: Option<u64>,
    limit_file: Option<String>,
    /// The limit detection found at the start.
    detected_limit: Option<u64>,
    /// The JVM followed, as its performance data last described it.
    jvm: Option<Observed>,
    /// A limit at or above this is none.
    host_memory: u64,
    /// Wakes the watch as the usage nears the limit, where the cgroup allows it.
    notifier: Option<Notifier>,
    /// The JVM as last read, when, and the usage then.
    last_jvm: Option<(Instant, u64, Jvm)>,
}

impl Sampler {
    /// A watch over the memory cgroup `detection` found; `None` without one.
    #[must_use]
    pub fn new(root: &Root, detection: &Detection, sizing: Sizing) -> Option<Sampler> {
        let placement = detection.layout.memory.as_ref()?;
        let dir = placement.dir.clone();
        let own_limit = if placement.unified {
            format!("{dir}/memory.max")
        } else {
            format!("{dir}/memory.limit_in_bytes")
        };
        let mut limits = vec![own_limit];
        if let Limit::Set { source, .. } = &detection.memory {
            let origin = source.origin().to_string();
            if origin.starts_with('/') && !limits.contains(&origin) {
                limits.push(origin);
            }
        }
        if let Some(Limit::Set { source, .. }) = &detection.memory_high {
            let origin = source.origin().to_string();
            if origin.starts_with('/') && !limits.contains(&origin) {
                limits.push(origin);
            }
        }
        let now = Instant::now();
        let sampler = Sampler {
            root: root.clone(),
            files: Files {
                dir,
                unified: placement.unified,
                limits,
            },
            tmp: root.real_path(Path::new("/tmp")),
            own_pid: std::process::id().try_into().unwrap_or(0),
            started: now,
            next: None,
            recent: VecDeque::with_capacity(RECENT),
            older: VecDeque::with_capacity(OLDER),
            last_older: None,
            known: HashMap::new(),
            sizing,
            limit: detection.memory.value(),
            limit_file: None,
            detected_limit: detection.memory.value(),
            jvm: None,
            host_memory: detection
                .host
                .memory
                .value()
                .unwrap_or(UNLIMITED_FLOOR)
                .min(UNLIMITED_FLOOR),
            notifier: None,
            last_jvm: None,
        };
        Some(sampler)
    }

    /// Arm the notifier for the current limit (again after a change). A cgroup that refuses
    /// it (a read-only mount) leaves the pace alone, said with `-v`.
    fn arm(&mut self) {
        self.notifier = None;
        let dir = self.root.real_path(Path::new(&self.files.dir));
        let armed = if self.files.unified {
            Notifier::v2(&dir)
        } else {
            let Some(limit) = self.limit else {
                return;
            };
            Notifier::v1(&dir, limit)
        };
        match armed {
            Ok(notifier) => self.notifier = Some(notifier),
            Err(err) => log::info(&format!(
                "the memory watch samples at its pace only: no threshold notification ({err})"
            )),
        }
    }

    /// The samples kept, oldest first.
    #[must_use]
    pub fn samples(&self) -> Vec<Sample> {
        let first_recent = self.recent.front().map_or(u64::MAX, |s| s.t_ms);
        self.older
            .iter()
            .filter(|s| s.t_ms < first_recent)
            .chain(self.recent.iter())
            .cloned()
            .collect()
    }

    /// The JVM followed, as last read.
    #[must_use]
    pub fn jvm(&self) -> Option<&Observed> {
        self.jvm.as_ref()
    }

    fn read(&self, name: &str) -> Option<String> {
        self.root
            .read(Path::new(&format!("{}/{name}", self.files.dir)))
            .ok()
    }

    /// The lowest limit the followed files set now, with its file: `None` when none could be
    /// read, `Some(None)` when none sets a limit (`max`, `-1`, or at least the host's memory).
    fn read_limit(&self) -> Option<Option<(u64, String)>> {
        let values: Vec<(LimitValue, &String)> = self
            .files
            .limits
            .iter()
            .filter_map(|path| {
                let text = self.root.read(Path::new(path)).ok()?;
                Some((parse::limit_value(&text)?, path))
            })
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(
            values
                .into_iter()
                .filter_map(|(value, path)| match value {
                    LimitValue::Value(bytes) if bytes < self.host_memory => {
                        Some((bytes, path.clone()))
                    }
                    _ => None,
                })
                .min_by_key(|(bytes, _)| *bytes),
        )
    }

    /// The limit now, when it differs from the one detected at the start: its value and file.
    #[must_use]
    pub fn changed_limit(&self) -> Option<(u64, &str)> {
        if self.limit == self.detected_limit {
            return None;
        }
        Some((self.limit?, self.limit_file.as_deref()?))
    }

    /// One sample, now.
    fn take(&mut self) -> Option<Sample> {
        let t_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let usage_file = if self.files.unified {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        let usage_bytes: u64 = self.read(usage_file)?.trim().parse().ok()?;
        let mut stat = self
            .read("memory.stat")
            .map(|text| sample::memory_stat(&text, self.files.unified))
            .unwrap_or_default();
        if !self.files.unified {
            stat.kernel_bytes = Some(
                usage_bytes
                    .saturating_sub(stat.anon_bytes.unwrap_or(0))
                    .saturating_sub(stat.file_bytes.unwrap_or(0)),
            );
        }
        let (events, pressure) = if self.files.unified {
            (
                self.read("memory.events")
                    .and_then(|t| sample::memory_events(&t)),
                self.read("memory.pressure")
                    .and_then(|t| sample::pressure_some_avg10(&t)),
            )
        } else {
            (None, None)
        };
        let pids = self
            .read("cgroup.procs")
            .map(|t| sample::pids(&t, MAX_PROCESSES_READ))
            .unwrap_or_default();
        let mut processes: Vec<Process> = pids
            .iter()
            .filter(|&&pid| pid != self.own_pid)
            .filter_map(|&pid| {
                let text = self
                    .root
                    .read(Path::new(&format!("/proc/{pid}/status")))
                    .ok()?;
                sample::process_status(pid, &text)
            })
            // A process with nothing resident is a zombie, or being killed right now: its
            // memory is going, and says nothing of what it held.
            .filter(|p| p.rss_anon_bytes + p.rss_file_bytes + p.rss_shmem_bytes > 0)
            .collect();
        self.known.retain(|pid, _| pids.contains(pid));
        // The JVM's data again after JVM_EVERY, or at once when the usage moved (a fast fill).
        let jvm = match &self.last_jvm {
            Some((at, usage, jvm))
                if at.elapsed() < JVM_EVERY
                    && usage.abs_diff(usage_bytes) < JVM_AGAIN_AFTER
                    && processes.iter().any(|p| p.pid == jvm.pid) =>
            {
                Some(jvm.clone())
            }
            _ => {
                let jvm = self.read_jvm(&processes);
                self.last_jvm = jvm.clone().map(|jvm| (Instant::now(), usage_bytes, jvm));
                jvm
            }
        };
        processes.sort_by_key(|p| std::cmp::Reverse(p.private_bytes()));
        let jvm_pid = jvm.as_ref().map(|j| j.pid);
        let mut kept: Vec<Process> = Vec::with_capacity(MAX_PROCESSES_KEPT + 1);
        for (index, process) in processes.into_iter().enumerate() {
            if index < MAX_PROCESSES_KEPT || Some(process.pid) == jvm_pid {
                kept.push(process);
            }
        }
        Some(Sample {
            t_ms,
            usage_bytes,
            limit_bytes: match self.read_limit() {
                Some(read) => {
                    self.limit_file = read.as_ref().map(|(_, file)| file.clone());
                    read.map(|(bytes, _)| bytes)
                }
                None => self.limit,
            },
            stat,
            events,
            pressure_some_avg10: pressure,
            processes: kept,
            jvm,
        })
    }

    /// The JVM holding the most memory among `processes`, from its performance data.
    fn read_jvm(&mut self, processes: &[Process]) -> Option<Jvm> {
        let mut best: Option<(u64, Jvm, Option<Observed>)> = None;
        for process in processes {
            let now = Instant::now();
            let recheck = match self.known.get(&process.pid) {
                None => Some(now),
                Some(Known::Other(since)) if now.duration_since(*since) < JVM_START => Some(*since),
                Some(_) => None,
            };
            if let Some(since) = recheck {
                let known = match hsperf::find(&self.tmp, process.pid) {
                    Some(path) => Known::Jvm(path),
                    None => Known::Other(since),
                };
                self.known.insert(process.pid, known);
            }
            let Some(Known::Jvm(path)) = self.known.get(&process.pid) else {
                continue;
            };
            // Its counters are filled in while it starts: read once it has started.
            let Ok(data) = hsperf::read_only(path, |name| {
                PERF_ENTRIES.iter().any(|prefix| name.starts_with(prefix))
            }) else {
                continue;
            };
            if data
                .long("sun.rt.createVmEndTime")
                .is_none_or(|end| end <= 0)
            {
                continue;
            }
            let size = process.private_bytes();
            if best.as_ref().is_some_and(|(b, _, _)| *b >= size) {
                continue;
            }
            let observed = Observed::from_perf(process.pid, process.name.clone(), &data);
            best = Some((size, Jvm::from_perf(process.pid, &data), observed));
        }
        let (_, jvm, observed) = best?;
        if observed.is_some() {
            self.jvm = observed;
        }
        Some(jvm)
    }

    fn keep(&mut self, sample: Sample) {
        let now = Instant::now();
        if self
            .last_older
            .is_none_or(|at| now.duration_since(at) >= OLDER_EVERY)
        {
            self.last_older = Some(now);
            if self.older.len() == OLDER {
                self.older.pop_front();
            }
            self.older.push_back(sample.clone());
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);
    }

    /// A change of the limit: one line, and a warning when it is now below what the command
    /// was sized for.
    fn follow_limit(&mut self, now: Option<u64>, program: &str) {
        if now == self.limit {
            return;
        }
        let show = |limit: Option<u64>| limit.map_or_else(|| "none".to_string(), human_bytes);
        log::notice(&format!(
            "the memory limit changed: {} → {}",
            show(self.limit),
            show(now)
        ));
        self.limit = now;
        if !self.files.unified {
            self.arm();
        }
        let (Some(new), Some(sized)) = (now, self.sizing.limit_bytes) else {
            return;
        };
        if new >= sized {
            return;
        }
        if let Some(warning) = resize_warning(new, sized, &self.sizing, self.jvm.as_ref(), program)
        {
            log::warn(&warning);
        }
    }

    /// The pace: faster as the usage nears the limit. Above 90 % with a notifier armed, the
    /// kernel wakes the watch for the last stretch (v1 at 95 and 98 %, v2 when the usage meets
    /// `memory.high` or `memory.max`), so 250 ms is enough; without one, 100 ms.
    fn interval(sample: Option<&Sample>, notified: bool) -> Duration {
        let Some(sample) = sample else {
            return Duration::from_secs(1);
        };
        let Some(limit) = sample.limit_bytes.filter(|&l| l > 0) else {
            return Duration::from_secs(2);
        };
        let per_mille = sample.usage_bytes.saturating_mul(1000) / limit;
        Duration::from_millis(match per_mille {
            0..500 => 1000,
            500..800 => 500,
            800..900 => 250,
            _ if notified => 250,
            _ => 100,
        })
    }
}

/// The warning for a limit lowered below the `sized` one jwrap sized the command for.
#[must_use]
pub fn resize_warning(
    new: u64,
    sized: u64,
    sizing: &Sizing,
    jvm: Option<&Observed>,
    program: &str,
) -> Option<String> {
    let program = log::escape(program);
    let Some(jvm) = jvm else {
        return Some(format!(
            "the new memory limit, {}, is below the {} jwrap sized {program} for: it may be \
             killed by the kernel; restart it to size it for the new limit",
            human_bytes(new),
            human_bytes(sized)
        ));
    };
    let heap = jvm
        .max_heap_mib
        .or(sizing.heap_mib)
        .unwrap_or(0)
        .saturating_mul(MIB);
    let outside = sized.saturating_sub(sizing.heap_mib.unwrap_or(0).saturating_mul(MIB));
    let needs = heap.saturating_add(outside);
    let soft = match jvm.collector_name.as_str() {
        name if name.starts_with("ZGC") || name.starts_with("Shenandoah") => true,
        // G1 follows SoftMaxHeapSize from JDK 26 (JDK-8236073).
        _ => jvm.collector == Collector::G1 && sizing.jdk_feature.is_some_and(|f| f >= 26),
    };
    let proposal = if soft {
        let heap_now = new.saturating_sub(outside).max(8 * MIB) / MIB * MIB;
        format!(
            "; its collector follows a soft heap limit: jcmd {} VM.set_flag SoftMaxHeapSize {} \
             ({}) keeps it within the new limit",
            jvm.pid,
            heap_now,
            human_bytes(heap_now)
        )
    } else {
        String::new()
    };
    Some(format!(
        "the new memory limit, {}, is below the {} jwrap sized {} (pid {}) for (heap up to {} \
         and about {} outside it): the kernel may kill it before it can throw an \
         OutOfMemoryError; restart it to size it for the new limit{proposal}",
        human_bytes(new),
        human_bytes(needs.max(sized)),
        log::escape(&jvm.name),
        jvm.pid,
        human_bytes(heap),
        human_bytes(outside),
    ))
}

/// The watch with the program's name, as the init's periodic work.
#[derive(Debug)]
pub struct Watching {
    pub sampler: Sampler,
    pub program: String,
}

impl Periodic for Watching {
    fn due(&self) -> Option<Instant> {
        self.sampler.next
    }

    fn run(&mut self, _child: i32) {
        if let Some(notifier) = self.sampler.notifier.as_mut() {
            notifier.rearm();
        }
        let sample = self.sampler.take();
        let interval = Sampler::interval(sample.as_ref(), self.sampler.notifier.is_some());
        if let Some(sample) = sample {
            let limit = sample.limit_bytes;
            self.sampler.keep(sample);
            self.sampler.follow_limit(limit, &self.program);
        }
        self.sampler.next = Some(Instant::now() + interval);
    }

    /// Armed once the child runs (not before: jwrap's start-up is part of every container's),
    /// the first sample a little later.
    fn started(&mut self) {
        self.sampler.arm();
        self.sampler.started = Instant::now();
        self.sampler.next = Some(self.sampler.started + FIRST_SAMPLE);
    }

    fn wake_fd(&self) -> Option<(BorrowedFd<'_>, Wake)> {
        self.sampler.notifier.as_ref().map(Notifier::fd)
    }
}
