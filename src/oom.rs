//! Why the child died, when the kernel's out-of-memory killer did it.
//!
//! A container killed for going over its memory limit shows only "exit 137" (SIGKILL), the
//! same as any `kill -9`. jwrap reads the memory cgroup's kill counter before COMMAND starts
//! and after it ended (`cgroup::events`); when COMMAND died of SIGKILL (or exited 137, as a
//! shell does whose child was killed) and the counter rose, it says so, with the limit, the
//! heap, the peak usage and what to change. Composing the message is pure: `explain`.

use crate::cgroup::events::{Count, MemoryEvents};
use crate::init::ChildExit;
use crate::java::ranwith::Observed;
use crate::limits::Limit;
use crate::memwatch::blame::{Finding, Region};
use crate::plan::{HeapDecidedBy, JavaHeap};
use crate::units::human_bytes;

/// The exit code of a process killed by SIGKILL, as a shell reports it.
const SIGKILL_EXIT: i32 = 128 + libc::SIGKILL;

/// How far below the limit the peak may be and still be "at the limit": a refused charge can
/// be a transparent huge page (2 MiB), so usage stops that far below.
const AT_LIMIT_SLACK: u64 = 2 << 20;

/// Everything the explanation is made of.
#[derive(Debug, Clone)]
pub struct Death<'a> {
    pub exit: ChildExit,
    /// COMMAND's program, as the user wrote it.
    pub program: &'a str,
    /// The counters before COMMAND started and after it ended.
    pub before: Option<&'a MemoryEvents>,
    pub after: Option<&'a MemoryEvents>,
    /// The limit the kernel enforces (as detected, before any `--memory-limit`).
    pub enforced: &'a Limit<u64>,
    /// The limit jwrap sized for (after `--memory-limit`).
    pub sized_for: &'a Limit<u64>,
    /// What decided the JVM's heap; `None` when no JDK was involved.
    pub heap: Option<&'a JavaHeap>,
    /// `--heap-percent`, when given.
    pub heap_percent: Option<f64>,
    /// What the JVM really ran with, read from its performance data while it ran.
    pub jvm: Option<&'a Observed>,
    /// What the memory watch's samples say filled the container.
    pub finding: Option<&'a Finding>,
    /// Why they say nothing, when the watch took samples that missed the fill.
    pub unseen: Option<&'a str>,
}

/// What shows that the OOM killer acted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Evidence<'a> {
    /// The kill counter rose (v2, or v1 on Linux 4.13+).
    Kills { before: u64, after: &'a Count },
    /// No kill counter (v1 before Linux 4.13): charges failed at the limit during the run and
    /// the peak reached it.
    LimitHits { before: u64, after: &'a Count },
}

/// The child was killed with SIGKILL, directly or behind a shell.
#[must_use]
pub fn killed(exit: ChildExit) -> bool {
    matches!(
        exit,
        ChildExit::Signaled(libc::SIGKILL) | ChildExit::Exited(SIGKILL_EXIT)
    )
}

/// The counters say the OOM killer acted between the two readings.
fn evidence<'a>(
    before: &MemoryEvents,
    after: &'a MemoryEvents,
    enforced: &Limit<u64>,
) -> Option<Evidence<'a>> {
    if let (Some(earlier), Some(later)) = (&before.oom_kills, &after.oom_kills) {
        // A counter that exists is the answer: unchanged means it was not the OOM killer.
        return (later.value > earlier.value).then_some(Evidence::Kills {
            before: earlier.value,
            after: later,
        });
    }
    let (earlier, later) = (before.limit_hits.as_ref()?, after.limit_hits.as_ref()?);
    let limit = enforced.value()?;
    let peak = after.peak.as_ref()?.value;
    (later.value > earlier.value && peak.saturating_add(AT_LIMIT_SLACK) >= limit).then_some(
        Evidence::LimitHits {
            before: earlier.value,
            after: later,
        },
    )
}

/// The explanation, one line per fact (the caller adds `jwrap: `), or `None` when the child
/// did not die of an out-of-memory kill.
#[must_use]
pub fn explain(death: &Death<'_>) -> Option<String> {
    if !killed(death.exit) {
        return None;
    }
    let evidence = evidence(death.before?, death.after?, death.enforced)?;
    let program = crate::log::escape(&killed_name(death));
    let mut lines = Vec::new();
    match &evidence {
        Evidence::Kills { before, after } => lines.push(format!(
            "{program} was killed by the kernel's out-of-memory killer (oom_kill went from \
             {before} to {} in {}).",
            after.value, after.path
        )),
        Evidence::LimitHits { before, after } => lines.push(format!(
            "{program} was most likely killed by the kernel's out-of-memory killer: memory \
             use hit the limit during the run ({} went from {before} to {}).",
            after.path, after.value
        )),
    }
    match death.enforced {
        Limit::Set { value, source } => {
            lines.push(format!(
                "It went over the container's memory limit: {} ({value} bytes), from {source}.",
                human_bytes(*value)
            ));
            if let Limit::Set {
                value: sized,
                source,
            } = death.sized_for
            {
                if sized != value {
                    lines.push(format!(
                        "jwrap sized it for {} ({source}), not for that limit.",
                        human_bytes(*sized)
                    ));
                }
            }
        }
        _ => lines.push(
            "jwrap found no memory limit for this container: the host, or a cgroup jwrap \
             cannot see, ran out of memory."
                .to_string(),
        ),
    }
    if let Some(finding) = death.finding {
        lines.push(finding.line());
        lines.extend(finding.also.iter().cloned());
    } else if let Some(unseen) = death.unseen {
        lines.push(unseen.to_string());
    }
    lines.push(heap_line(death));
    if let Some(peak) = death.after.and_then(|after| after.peak.as_ref()) {
        lines.push(format!(
            "Peak memory use: {} ({} bytes, {}).",
            human_bytes(peak.value),
            peak.value,
            peak.path
        ));
    }
    let advice = death
        .finding
        .filter(|f| f.cause != Region::Heap)
        .and_then(|f| f.advice.clone())
        .unwrap_or_else(|| advice(death));
    lines.push(advice);
    Some(lines.join("\n"))
}

/// Who was killed: COMMAND, or the JVM it ran when that is another program (`catalina.sh`
/// execs or starts `java`).
fn killed_name(death: &Death<'_>) -> String {
    let program = death.program;
    match death.jvm {
        Some(jvm) if !program.ends_with(&jvm.name) => {
            format!("{} (pid {}, the JVM that {program} ran)", jvm.name, jvm.pid)
        }
        _ => program.to_string(),
    }
}

fn heap_line(death: &Death<'_>) -> String {
    if let Some(jvm) = death.jvm {
        if let Some(heap) = jvm.max_heap_mib {
            let from = match (jvm.heap_option(), death.heap.map(|h| &h.decided_by)) {
                (Some(option), Some(HeapDecidedBy::Jwrap { flag, .. })) if option == flag => {
                    format!("{option}, set by jwrap")
                }
                (Some(option), _) => format!("{option}, not jwrap's"),
                (None, _) => "the JVM's own default: it got no heap option".to_string(),
            };
            return format!(
                "Heap: up to {heap} MiB with {} (from {from}), as the JVM itself reported while \
                 it ran.",
                jvm.collector.name()
            );
        }
    }
    let program = death.program;
    let percent = death
        .heap_percent
        .map(|p| format!(", --heap-percent {p}"))
        .unwrap_or_default();
    match death.heap {
        None => format!("Heap: {program} is not a Java command; jwrap set no heap."),
        Some(heap) if heap.command_is_java => match &heap.decided_by {
            HeapDecidedBy::Jwrap { flag, delivery } => {
                format!("Heap: {flag}, set by jwrap (in the {delivery}{percent}).")
            }
            HeapDecidedBy::User { option, channel } => {
                format!(
                    "Heap: {option} (in {channel}), the user's own setting; jwrap added no -Xmx."
                )
            }
            HeapDecidedBy::JvmDefault { why } => format!("Heap: the JVM's own default ({why})."),
        },
        Some(heap) => {
            let had = match &heap.decided_by {
                HeapDecidedBy::Jwrap { flag, delivery } => {
                    format!("got {flag} from jwrap (in {delivery}{percent})")
                }
                HeapDecidedBy::User { option, channel } => {
                    format!("had {option} (in {channel}), the user's own")
                }
                HeapDecidedBy::JvmDefault { why } => {
                    format!("had the JVM's own default ({why})")
                }
            };
            format!("Heap: {program} is not a Java command; any JVM it started {had}.")
        }
    }
}

fn advice(death: &Death<'_>) -> String {
    let raise = "or give the container a larger memory limit";
    // A limit lowered under a running command (an in-place resize): it was sized for more, by
    // a detected limit (an override of the user's is their choice, told above).
    let detected = matches!(
        death.sized_for,
        Limit::Set {
            source: crate::limits::Source::File { .. },
            ..
        }
    );
    if let (Some(enforced), Some(sized), true) =
        (death.enforced.value(), death.sized_for.value(), detected)
    {
        if enforced < sized
            && death
                .heap
                .is_some_and(|h| matches!(h.decided_by, HeapDecidedBy::Jwrap { .. }))
        {
            return format!(
                "To fix: restart {} after a lower limit, so that jwrap sizes it for the new one, \
                 {raise}.",
                death.program
            );
        }
    }
    let jwrap_flag = match death.heap.map(|h| &h.decided_by) {
        Some(HeapDecidedBy::Jwrap { flag, .. }) => Some(flag.as_str()),
        _ => None,
    };
    if let Some(option) = death.jvm.and_then(Observed::heap_option) {
        if Some(option) != jwrap_flag {
            return format!(
                "To fix: lower {option} (or remove it and let jwrap size the heap), use fewer \
                 threads, {raise}."
            );
        }
    }
    let Some(heap) = death.heap.filter(|heap| heap.command_is_java) else {
        let jvm = match death.heap.map(|heap| &heap.decided_by) {
            Some(HeapDecidedBy::Jwrap { .. }) => "; for a JVM it starts, a lower --heap-percent",
            _ => "",
        };
        return format!(
            "To fix: make {} use less memory (fewer workers or threads, smaller caches{jvm}), \
             {raise}.",
            death.program
        );
    };
    match &heap.decided_by {
        HeapDecidedBy::Jwrap { .. } => {
            let lower = match death.heap_percent {
                Some(percent) => format!("a --heap-percent below {percent}"),
                None => "a lower --heap-percent".to_string(),
            };
            format!(
                "To fix: use {lower}, fewer threads (each has a stack and native memory \
                 outside the heap), {raise}."
            )
        }
        HeapDecidedBy::User { option, .. } => format!(
            "To fix: lower {option} (or remove it and let jwrap size the heap), use fewer \
             threads, {raise}."
        ),
        HeapDecidedBy::JvmDefault { .. } => format!(
            "To fix: give the JVM a smaller heap (-Xmx, or let jwrap size it), use fewer \
             threads, {raise}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Source;
    use crate::units::MIB;

    fn count(value: u64, path: &str) -> Count {
        Count {
            value,
            path: path.to_string(),
        }
    }

    fn v1(kills: Option<u64>, failcnt: u64, peak: u64) -> MemoryEvents {
        MemoryEvents {
            oom_kills: kills.map(|k| count(k, "/sys/fs/cgroup/memory/memory.oom_control")),
            limit_hits: Some(count(failcnt, "/sys/fs/cgroup/memory/memory.failcnt")),
            peak: Some(count(
                peak,
                "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",
            )),
        }
    }

    fn limit(bytes: u64) -> Limit<u64> {
        Limit::Set {
            value: bytes,
            source: Source::file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "268435456"),
        }
    }

    fn java_heap(decided_by: HeapDecidedBy, command_is_java: bool) -> JavaHeap {
        JavaHeap {
            command_is_java,
            decided_by,
        }
    }

    struct Case {
        exit: ChildExit,
        before: MemoryEvents,
        after: MemoryEvents,
        enforced: Limit<u64>,
        sized_for: Limit<u64>,
        heap: Option<JavaHeap>,
        heap_percent: Option<f64>,
        jvm: Option<Observed>,
    }

    impl Case {
        fn new(before: MemoryEvents, after: MemoryEvents) -> Case {
            Case {
                exit: ChildExit::Signaled(libc::SIGKILL),
                before,
                after,
                enforced: limit(256 * MIB),
                sized_for: limit(256 * MIB),
                heap: None,
                heap_percent: None,
                jvm: None,
            }
        }

        fn explain(&self, program: &str) -> Option<String> {
            explain(&Death {
                exit: self.exit,
                program,
                before: Some(&self.before),
                after: Some(&self.after),
                enforced: &self.enforced,
                sized_for: &self.sized_for,
                heap: self.heap.as_ref(),
                heap_percent: self.heap_percent,
                jvm: self.jvm.as_ref(),
                finding: None,
                unseen: None,
            })
        }
    }

    #[test]
    fn a_rising_kill_counter_and_sigkill_explain_the_death() {
        let mut case = Case::new(v1(Some(0), 3, 100 * MIB), v1(Some(1), 90, 256 * MIB));
        case.heap = Some(java_heap(
            HeapDecidedBy::User {
                option: "-Xmx1g".to_string(),
                channel: "the command line".to_string(),
            },
            true,
        ));
        let text = case.explain("java").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "java was killed by the kernel's out-of-memory killer (oom_kill went from 0 to 1 \
             in /sys/fs/cgroup/memory/memory.oom_control)."
        );
        assert_eq!(
            lines[1],
            "It went over the container's memory limit: 256 MiB (268435456 bytes), from \
             /sys/fs/cgroup/memory/memory.limit_in_bytes."
        );
        assert_eq!(
            lines[2],
            "Heap: -Xmx1g (in the command line), the user's own setting; jwrap added no -Xmx."
        );
        assert_eq!(
            lines[3],
            "Peak memory use: 256 MiB (268435456 bytes, \
             /sys/fs/cgroup/memory/memory.max_usage_in_bytes)."
        );
        assert!(lines[4].starts_with("To fix: lower -Xmx1g (or remove it"));
        assert!(lines[4].contains("larger memory limit"));
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn exit_137_from_a_shell_counts_as_a_kill() {
        let mut case = Case::new(v1(Some(2), 0, 0), v1(Some(3), 0, 0));
        case.exit = ChildExit::Exited(137);
        let text = case.explain("sh").unwrap();
        assert!(text.contains("Heap: sh is not a Java command; jwrap set no heap."));
        assert!(text.contains(
            "To fix: make sh use less memory (fewer workers or threads, smaller caches), or give"
        ));
    }

    #[test]
    fn other_kills_and_exits_say_nothing() {
        // kill -9 by someone else: the counter did not move (even though failcnt did).
        let case = Case::new(v1(Some(1), 3, 256 * MIB), v1(Some(1), 9, 256 * MIB));
        assert_eq!(case.explain("java"), None);
        // The counter rose (another process was killed), but the child exited normally or
        // died of another signal.
        for exit in [
            ChildExit::Exited(0),
            ChildExit::Exited(1),
            ChildExit::Exited(143),
            ChildExit::Signaled(libc::SIGTERM),
        ] {
            let mut case = Case::new(v1(Some(0), 0, 0), v1(Some(1), 0, 0));
            case.exit = exit;
            assert_eq!(case.explain("java"), None, "{exit:?}");
        }
        // No counters before the run (the kernel's init, before /sys was mounted): no claim.
        let after = v1(Some(1), 0, 0);
        let death = Death {
            exit: ChildExit::Signaled(libc::SIGKILL),
            program: "java",
            before: None,
            after: Some(&after),
            enforced: &limit(MIB),
            sized_for: &limit(MIB),
            heap: None,
            heap_percent: None,
            jvm: None,
            finding: None,
            unseen: None,
        };
        assert_eq!(explain(&death), None);
    }

    #[test]
    fn old_v1_kernels_fall_back_to_failcnt_at_the_limit() {
        let case = Case::new(v1(None, 3, 100 * MIB), v1(None, 50, 256 * MIB - MIB));
        let text = case.explain("java").unwrap();
        assert!(text.starts_with("java was most likely killed"), "{text}");
        assert!(text.contains("memory.failcnt went from 3 to 50"));
        // Failures, but the peak stayed well below the limit: not evidence enough.
        let case = Case::new(v1(None, 3, 0), v1(None, 50, 200 * MIB));
        assert_eq!(case.explain("java"), None);
        // No new failures.
        let case = Case::new(v1(None, 50, 0), v1(None, 50, 256 * MIB));
        assert_eq!(case.explain("java"), None);
    }

    #[test]
    fn the_heap_jwrap_set_and_where() {
        let mut case = Case::new(v1(Some(0), 0, 0), v1(Some(1), 0, 0));
        case.heap = Some(java_heap(
            HeapDecidedBy::Jwrap {
                flag: "-Xmx384m".to_string(),
                delivery: "arguments".to_string(),
            },
            true,
        ));
        case.heap_percent = Some(150.0);
        let text = case.explain("java").unwrap();
        assert!(
            text.contains("Heap: -Xmx384m, set by jwrap (in the arguments, --heap-percent 150)."),
            "{text}"
        );
        assert!(text.contains("To fix: use a --heap-percent below 150, fewer threads"));

        case.heap = Some(java_heap(
            HeapDecidedBy::Jwrap {
                flag: "-Xmx180m".to_string(),
                delivery: "JAVA_TOOL_OPTIONS".to_string(),
            },
            false,
        ));
        case.heap_percent = None;
        let text = case.explain("./start.sh").unwrap();
        assert!(
            text.contains(
                "Heap: ./start.sh is not a Java command; any JVM it started got -Xmx180m from \
                 jwrap (in JAVA_TOOL_OPTIONS)."
            ),
            "{text}"
        );
        assert!(text.contains("smaller caches; for a JVM it starts, a lower --heap-percent)"));
    }

    #[test]
    fn an_override_and_a_missing_limit_are_told() {
        let mut case = Case::new(v1(Some(0), 0, 0), v1(Some(1), 0, 0));
        case.sized_for = Limit::Set {
            value: 512 * MIB,
            source: Source::Setting {
                name: "--memory-limit".to_string(),
                text: "536870912".to_string(),
            },
        };
        let text = case.explain("java").unwrap();
        assert!(text.contains("jwrap sized it for 512 MiB (--memory-limit), not for that limit."));

        case.enforced = Limit::Unlimited { source: None };
        let text = case.explain("java").unwrap();
        assert!(text.contains("jwrap found no memory limit for this container"));
        assert!(!text.contains("sized it for"));
    }
}
