//! Which region filled the container, from the samples taken before the kill. Pure.
//!
//! Each sample is split into regions: for the JVM, its heap (committed), metaspace, compiled
//! code and what it holds outside them (its resident anonymous memory less those three: thread
//! stacks, direct buffers, the collector's and the compiler's own memory, native code's
//! allocations); the other processes' private memory; shared memory (tmpfs); kernel memory.
//! Page cache is counted but never the cause: the kernel reclaims it before it kills.
//!
//! The cause is the region that grew most over the last `WINDOW` of samples. When none grew
//! by more than `LEAST_GROWTH`, it is the largest. Memory outside the JVM's own accounts is
//! then told apart by what else moved: threads when the live thread count rose by hundreds;
//! direct buffers when its growth fits within the JVM's direct-memory bound
//! (`-XX:MaxDirectMemorySize`, by default the maximum heap); native memory when it is more
//! than direct buffers may take. Nothing passive tells direct buffers from other native memory
//! within that bound: the explanation says so.

use super::sample::{Jvm, Process, Sample};
use crate::log::escape;
use crate::units::{MIB, parse_size};

/// How far back the growth is measured.
pub const WINDOW_MS: u64 = 30_000;
/// Growth below this is no growth: a region that grew less did not fill the container.
const LEAST_GROWTH: u64 = 4 * MIB;
/// A thread count that rose by this many is a thread leak, not a busy server.
const THREAD_RISE: u64 = 100;
/// Page cache below this is not worth a line.
const PAGE_CACHE_WORTH_SAYING: u64 = 8 * MIB;

/// The regions the explanation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Heap,
    Threads,
    Metaspace,
    CompiledCode,
    DirectBuffers,
    NativeMemory,
    /// A process other than the JVM.
    AnotherProcess,
    /// The command's own processes, when no JVM runs.
    ProcessMemory,
    SharedMemory,
    KernelMemory,
}

impl Region {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Region::Heap => "heap",
            Region::Threads => "threads",
            Region::Metaspace => "metaspace",
            Region::CompiledCode => "compiled code",
            Region::DirectBuffers => "direct buffers",
            Region::NativeMemory => "native memory",
            Region::AnotherProcess => "another process",
            Region::ProcessMemory => "process memory",
            Region::SharedMemory => "shared memory",
            Region::KernelMemory => "kernel memory",
        }
    }
}

/// What the explanation says about the samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub cause: Region,
    /// `What filled it: <cause> — <detail>`.
    pub detail: String,
    /// Other lines: the page cache that was not the cause, what the rest held.
    pub also: Vec<String>,
    /// What to change, for a cause other than the heap (the heap's advice depends on who set it).
    pub advice: Option<String>,
}

impl Finding {
    /// `What filled it: heap — committed …`.
    #[must_use]
    pub fn line(&self) -> String {
        format!("What filled it: {} — {}", self.cause.name(), self.detail)
    }
}

/// What the blame needs besides the samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The options the JVM ran with (`java.rt.vmArgs`), for its direct-memory bound.
    pub jvm_args: Option<String>,
}

/// One region's values over the window: at the end, and at its lowest before the end.
#[derive(Debug, Clone, Copy)]
struct Series {
    last: u64,
    low: u64,
    /// When it was lowest, ms.
    low_at: u64,
}

impl Series {
    /// The series of `value` over `samples`; its end is the last sample that has a value (a
    /// process being killed may no longer be readable in the very last one).
    fn of(samples: &[&Sample], value: impl Fn(&Sample) -> Option<u64>) -> Option<Series> {
        let (last, at) = samples
            .iter()
            .rev()
            .find_map(|s| Some((value(s)?, s.t_ms)))?;
        let mut series = Series {
            last,
            low: last,
            low_at: at,
        };
        for sample in samples {
            if let Some(v) = value(sample) {
                if v < series.low {
                    series.low = v;
                    series.low_at = sample.t_ms;
                }
            }
        }
        Some(series)
    }

    fn growth(self) -> u64 {
        self.last.saturating_sub(self.low)
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(MIB))
}

fn seconds(ms: u64) -> String {
    let tenths = ms.div_ceil(100);
    if tenths < 100 {
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else {
        format!("{} s", ms.div_ceil(1000))
    }
}

/// `grew from 40 MiB in 6.2 s` / `did not grow`.
fn grew(series: Series, end_ms: u64) -> String {
    if series.growth() < LEAST_GROWTH {
        "about the same over the last samples".to_string()
    } else {
        format!(
            "grew from {} in {}",
            mib(series.low),
            seconds(end_ms.saturating_sub(series.low_at))
        )
    }
}

fn process_of(sample: &Sample, pid: i32) -> Option<&Process> {
    sample.processes.iter().find(|p| p.pid == pid)
}

fn jvm_of(sample: &Sample, pid: i32) -> Option<&Jvm> {
    sample.jvm.as_ref().filter(|jvm| jvm.pid == pid)
}

/// The JVM's resident anonymous memory outside its heap, metaspace and compiled code.
fn outside(sample: &Sample, pid: i32) -> Option<u64> {
    let jvm = jvm_of(sample, pid)?;
    let process = process_of(sample, pid)?;
    let anon = process.private_bytes();
    let heap = jvm.heap_committed_bytes.unwrap_or(0).min(anon);
    Some(
        anon.saturating_sub(heap)
            .saturating_sub(jvm.metaspace_bytes.unwrap_or(0))
            .saturating_sub(jvm.code_bytes.unwrap_or(0)),
    )
}

/// The largest of the other processes at the end, by private memory.
fn largest_other(sample: &Sample, jvm_pid: i32) -> Option<&Process> {
    sample
        .processes
        .iter()
        .filter(|p| p.pid != jvm_pid)
        .max_by_key(|p| p.private_bytes())
}

/// The JVM's bound on direct buffers: its last `-XX:MaxDirectMemorySize`, else its heap.
fn direct_cap(context: &Context, jvm: &Jvm) -> Option<u64> {
    let from_option = context.jvm_args.as_deref().and_then(|args| {
        args.split_whitespace()
            .rev()
            .find_map(|w| w.strip_prefix("-XX:MaxDirectMemorySize="))
            .and_then(|size| parse_size(size).ok())
    });
    from_option.or(jvm.heap_max_bytes)
}

/// The usage less the page cache (shared memory stays: it cannot be reclaimed without swap).
fn unreclaimable(sample: &Sample) -> u64 {
    let cache = sample
        .stat
        .file_bytes
        .unwrap_or(0)
        .saturating_sub(sample.stat.shmem_bytes.unwrap_or(0));
    sample.usage_bytes.saturating_sub(cache)
}

/// A candidate cause with its series.
struct Candidate {
    region: Region,
    series: Series,
}

/// The samples up to the kill. The kill came at the highest usage the kernel could not
/// reclaim over the last `WINDOW_MS` (page cache aside: a cgroup full of it sits at its limit
/// long before any kill); samples after it saw the killed process give its memory back.
#[must_use]
pub fn before_kill(samples: &[Sample]) -> &[Sample] {
    let Some(last) = samples.last() else {
        return samples;
    };
    let since = last.t_ms.saturating_sub(WINDOW_MS);
    // While the killed process is torn down its memory is still charged for a moment, but it
    // is no longer in the list: a sample whose processes hold less than half of the usage came
    // after the kill (unless none holds more, as when the kernel's own memory filled it).
    let holding = |s: &Sample| {
        let held: u64 = s.processes.iter().map(Process::private_bytes).sum();
        held.saturating_mul(2) >= unreclaimable(s)
    };
    let recent = || samples.iter().enumerate().filter(|(_, s)| s.t_ms >= since);
    let pick = |candidates: Vec<(usize, &Sample)>| {
        // The highest; of equal ones the first (the kernel may hold a group at its limit for
        // seconds before it kills).
        candidates
            .into_iter()
            .max_by_key(|(index, s)| (unreclaimable(s), std::cmp::Reverse(*index)))
            .map(|(index, _)| index)
    };
    let peak = pick(recent().filter(|(_, s)| holding(s)).collect())
        .or_else(|| pick(recent().collect()))
        .map_or(samples.len(), |index| index + 1);
    &samples[..peak]
}

/// The finding for `samples` (oldest first), or `None` without any.
#[must_use]
pub fn blame(samples: &[Sample], context: &Context) -> Option<Finding> {
    let samples = before_kill(samples);
    let peak = samples.last()?;
    let start = peak.t_ms.saturating_sub(WINDOW_MS);
    let window: Vec<&Sample> = samples.iter().filter(|s| s.t_ms >= start).collect();
    let end = *window.last()?;
    // Samples that never came near the limit saw nothing fill it (a fill faster than the
    // pace, before any threshold woke the watch, or memory charged outside this cgroup).
    if end
        .limit_bytes
        .is_some_and(|limit| end.usage_bytes < limit / 2)
    {
        return None;
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut push = |region: Region, series: Option<Series>| {
        if let Some(series) = series {
            candidates.push(Candidate { region, series });
        }
    };
    let jvm = end.jvm.clone();
    if let Some(jvm) = &jvm {
        let pid = jvm.pid;
        push(
            Region::Heap,
            Series::of(&window, |s| jvm_of(s, pid)?.heap_committed_bytes),
        );
        push(
            Region::Metaspace,
            Series::of(&window, |s| jvm_of(s, pid)?.metaspace_bytes),
        );
        push(
            Region::CompiledCode,
            Series::of(&window, |s| jvm_of(s, pid)?.code_bytes),
        );
        push(
            Region::NativeMemory,
            Series::of(&window, |s| outside(s, pid)),
        );
        push(
            Region::AnotherProcess,
            Series::of(&window, |s| {
                Some(
                    s.processes
                        .iter()
                        .filter(|p| p.pid != pid)
                        .map(Process::private_bytes)
                        .sum(),
                )
            }),
        );
    } else {
        push(
            Region::ProcessMemory,
            Series::of(&window, |s| {
                Some(s.processes.iter().map(Process::private_bytes).sum())
            }),
        );
    }
    push(
        Region::SharedMemory,
        Series::of(&window, |s| s.stat.shmem_bytes),
    );
    push(
        Region::KernelMemory,
        Series::of(&window, |s| s.stat.kernel_bytes),
    );

    let grown = candidates
        .iter()
        .filter(|c| c.series.growth() >= LEAST_GROWTH)
        .max_by_key(|c| c.series.growth());
    let chosen = grown.or_else(|| candidates.iter().max_by_key(|c| c.series.last))?;
    let mut finding = describe(chosen, &window, end, jvm.as_ref(), context);
    finding.also.extend(page_cache(&window));
    Some(finding)
}

/// Why there is no finding although the watch took samples: a line for the explanation.
#[must_use]
pub fn unseen(samples: &[Sample]) -> Option<String> {
    let Some(peak) = samples.iter().max_by_key(|s| (s.usage_bytes, s.t_ms)) else {
        return Some(
            "The memory watch cannot name what filled it: the kill came before its first \
             sample, and before any notification of the kernel's."
                .to_string(),
        );
    };
    let limit = peak
        .limit_bytes
        .map(|l| format!(" of the {} limit", mib(l)))
        .unwrap_or_default();
    Some(format!(
        "The memory watch cannot name what filled it: {} saw at most {}{limit} in use \
         (at {}): it filled faster than they were taken, or outside this cgroup.",
        match samples.len() {
            1 => "its one sample".to_string(),
            n => format!("its {n} samples"),
        },
        mib(peak.usage_bytes),
        seconds(peak.t_ms)
    ))
}

/// The detail and the advice for the chosen region.
fn describe(
    chosen: &Candidate,
    window: &[&Sample],
    end: &Sample,
    jvm: Option<&Jvm>,
    context: &Context,
) -> Finding {
    let series = chosen.series;
    let how = grew(series, end.t_ms);
    let of_limit = end
        .limit_bytes
        .map(|limit| format!(" of the {} limit", mib(limit)))
        .unwrap_or_default();
    let finding = |cause: Region, detail: String, advice: Option<String>| Finding {
        cause,
        detail,
        also: Vec::new(),
        advice,
    };
    match (chosen.region, jvm) {
        (Region::Heap, Some(jvm)) => {
            let max = jvm
                .heap_max_bytes
                .map(|m| format!(" (maximum {})", mib(m)))
                .unwrap_or_default();
            let used = jvm
                .heap_used_bytes
                .map(|u| format!("; {} in use", mib(u)))
                .unwrap_or_default();
            finding(
                Region::Heap,
                format!(
                    "the JVM's heap had {} committed{max}, {how}{used}.",
                    mib(series.last)
                ),
                None,
            )
        }
        (Region::Metaspace, Some(jvm)) => {
            let classes = Series::of(window, |s| jvm_of(s, jvm.pid)?.classes);
            let loaded = classes
                .map(|c| format!(", {} classes loaded (from {})", c.last, c.low))
                .unwrap_or_default();
            finding(
                Region::Metaspace,
                format!(
                    "the JVM's class metadata took {} ({how}){loaded}: classes generated or \
                     loaded and never unloaded (a class-loader leak?).",
                    mib(series.last)
                ),
                Some(
                    "To fix: find what keeps defining classes (proxies, scripts, redeployed \
                     class loaders); -XX:MaxMetaspaceSize turns this into an \
                     OutOfMemoryError the application can see."
                        .to_string(),
                ),
            )
        }
        (Region::CompiledCode, Some(_)) => finding(
            Region::CompiledCode,
            format!("the JIT's compiled code took {} ({how}).", mib(series.last)),
            Some(
                "To fix: a smaller -XX:ReservedCodeCacheSize, or a larger memory limit."
                    .to_string(),
            ),
        ),
        (Region::NativeMemory, Some(jvm)) => outside_the_heap(series, window, end, jvm, context),
        (Region::AnotherProcess, Some(jvm)) => {
            let other = largest_other(end, jvm.pid);
            let who = other
                .map(|p| {
                    format!(
                        "{} (pid {}) held {} of it",
                        escape(&p.name),
                        p.pid,
                        mib(p.private_bytes())
                    )
                })
                .unwrap_or_default();
            let java = process_of(end, jvm.pid)
                .map(|p| format!("; the JVM (pid {}) held {}", p.pid, mib(p.private_bytes())))
                .unwrap_or_default();
            finding(
                Region::AnotherProcess,
                format!(
                    "processes other than the JVM held {}{of_limit} ({how}); {who}{java}.",
                    mib(series.last)
                ),
                Some(
                    "To fix: give that process its own memory limit (its own container), or \
                     count it in this container's limit and lower the JVM's heap."
                        .to_string(),
                ),
            )
        }
        (Region::ProcessMemory, _) => {
            let largest = end.processes.iter().max_by_key(|p| p.private_bytes());
            let who = largest
                .map(|p| {
                    format!(
                        "; the largest, {} (pid {}), {}",
                        escape(&p.name),
                        p.pid,
                        mib(p.private_bytes())
                    )
                })
                .unwrap_or_default();
            finding(
                Region::ProcessMemory,
                format!(
                    "the command's processes held {}{of_limit} ({how}){who}.",
                    mib(series.last)
                ),
                None,
            )
        }
        (Region::SharedMemory, _) => finding(
            Region::SharedMemory,
            format!(
                "tmpfs files and shared memory held {}{of_limit} ({how}); without swap the \
                 kernel cannot free them.",
                mib(series.last)
            ),
            Some(
                "To fix: delete files from tmpfs mounts (/dev/shm, an emptyDir in memory) or \
                 bound them, or raise the limit."
                    .to_string(),
            ),
        ),
        (region, _) => finding(
            Region::KernelMemory,
            format!(
                "the kernel's own memory for the container (socket buffers, page tables, \
                 kernel stacks, slab) held {}{of_limit} ({how}).",
                mib(series.last)
            ),
            (region == Region::KernelMemory).then(|| {
                "To fix: look for many open connections or many threads and processes; raise \
                 the limit."
                    .to_string()
            }),
        ),
    }
}

/// Memory outside the JVM's heap, metaspace and code grew most: threads, direct buffers or
/// other native memory.
fn outside_the_heap(
    series: Series,
    window: &[&Sample],
    end: &Sample,
    jvm: &Jvm,
    context: &Context,
) -> Finding {
    let how = grew(series, end.t_ms);
    let threads = Series::of(window, |s| jvm_of(s, jvm.pid)?.threads)
        .or_else(|| Series::of(window, |s| process_of(s, jvm.pid).map(|p| p.threads)));
    if let Some(threads) = threads.filter(|t| t.growth() >= THREAD_RISE) {
        return Finding {
            cause: Region::Threads,
            detail: format!(
                "{} live threads (from {} in {}); their stacks and the native memory that goes \
                 with them took about {} outside the heap ({how}).",
                threads.last,
                threads.low,
                seconds(end.t_ms.saturating_sub(threads.low_at)),
                mib(series.growth().max(series.last))
            ),
            also: Vec::new(),
            advice: Some(
                "To fix: bound the thread pools (or use virtual threads), look for threads \
                 started and never ended; a smaller -Xss lowers each one's stack."
                    .to_string(),
            ),
        };
    }
    let cap = direct_cap(context, jvm);
    match cap {
        Some(cap) if series.growth() <= cap => Finding {
            cause: Region::DirectBuffers,
            detail: format!(
                "memory outside the JVM's heap, metaspace and code took {} ({how}), within \
                 the {} its direct buffers may take (-XX:MaxDirectMemorySize, by default the \
                 maximum heap); native code's own allocations cannot be told from them without \
                 Native Memory Tracking.",
                mib(series.last),
                mib(cap)
            ),
            also: Vec::new(),
            advice: Some(format!(
                "To fix: -XX:MaxDirectMemorySize below what the limit leaves beside the heap \
                 (direct buffers then end in an OutOfMemoryError), and release buffers (pooled \
                 ByteBuffers, Netty's allocator); if it is not direct buffers, \
                 -XX:NativeMemoryTracking=summary and jcmd {} VM.native_memory show what it is.",
                jvm.pid
            )),
        },
        _ => Finding {
            cause: Region::NativeMemory,
            detail: format!(
                "memory outside the JVM's heap, metaspace and code took {} ({how}){}: native \
                 code's allocations (JNI libraries, Deflater or Inflater never ended, \
                 Unsafe.allocateMemory).",
                mib(series.last),
                cap.map(|cap| format!(", more than the {} its direct buffers may take", mib(cap)))
                    .unwrap_or_default()
            ),
            also: Vec::new(),
            advice: Some(format!(
                "To fix: find the native allocations never freed (end() on Deflater and \
                 Inflater, a JNI library's leak); -XX:NativeMemoryTracking=summary and \
                 jcmd {} VM.native_memory show where it goes.",
                jvm.pid
            )),
        },
    }
}

/// The page cache line, when it was worth a line in the window: its highest there (the kernel
/// gives it back in the last fraction of a second before a kill). Never the cause.
fn page_cache(window: &[&Sample]) -> Option<String> {
    let most = window
        .iter()
        .filter_map(|s| {
            s.stat
                .file_bytes
                .map(|file| file.saturating_sub(s.stat.shmem_bytes.unwrap_or(0)))
        })
        .max()?;
    (most >= PAGE_CACHE_WORTH_SAYING)
        .then(|| format!("Page cache: {} (reclaimable; not the cause).", mib(most)))
}
