//! The JVM flags for one JDK in one container: pure, total, explained.
//!
//! `decide` compares what the JVM would see on its own (`JvmView`: its version's container
//! support, where the limits sit in the hierarchy, whether it turns `cpu.shares` into CPUs)
//! with the limits jwrap found, and adds a flag only where they differ or where the JVM's own
//! defaults do not fit a container (the heap, direct memory, code cache, metaspace). A setting
//! the user gave anywhere wins; a flag the JDK would reject is never emitted.

use super::budget::{self, Collector, HeapBudget, HeapRule, Region, UserRegions};
use super::userflags::{Hidden, Knob, UserSetting, UserSettings};
use super::version::{ContainerSupport, JdkFacts};
use crate::cgroup::{Detection, KernelControllers};
use crate::limits::{Limit, Limits, Source};
use crate::units::MIB;
use crate::units::human_bytes;
use std::path::Path;

/// A detected limit and whether it sits in the process's own cgroup (rather than a parent's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed<T> {
    pub value: T,
    pub own_cgroup: bool,
}

/// What the cgroup files hold, as plain values: what a JVM could read from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupFacts {
    /// 1 (v1 or hybrid), 2, or `None` when no cgroup hierarchy is mounted.
    pub version: Option<u8>,
    /// The detected memory limit (before `--memory-limit`).
    pub memory: Option<Placed<u64>>,
    /// The detected CPU quota, as CPUs (before `--cpus`).
    pub cpu_quota: Option<Placed<f64>>,
    /// v1 `cpu.shares` or v2 `cpu.weight` of the process's own cgroup.
    pub cpu_weight: Option<u64>,
    pub host_cpus: Option<u32>,
    pub host_memory: Option<u64>,
    pub cpuset_cpus: Option<u32>,
    /// `/proc/cgroups` and the v2 root's `cgroup.controllers`: what a JDK reads to decide
    /// whether it is in a container at all.
    pub controllers: KernelControllers,
}

/// Whether a limit's file is in `dir` itself.
fn in_dir(source: &Source, dir: Option<&str>) -> bool {
    match (source, dir) {
        (Source::File { path, .. }, Some(dir)) => Path::new(path).parent() == Some(Path::new(dir)),
        _ => false,
    }
}

impl CgroupFacts {
    #[must_use]
    pub fn from_detection(detection: &Detection) -> CgroupFacts {
        let layout = &detection.layout;
        let memory_dir = layout.memory.as_ref().map(|p| p.dir.as_str());
        let cpu_dir = layout.cpu.as_ref().map(|p| p.dir.as_str());
        CgroupFacts {
            version: layout.mode.version(),
            memory: match &detection.memory {
                Limit::Set { value, source } => Some(Placed {
                    value: *value,
                    own_cgroup: in_dir(source, memory_dir),
                }),
                _ => None,
            },
            cpu_quota: match &detection.cpu {
                Limit::Set { value, source } => Some(Placed {
                    value: *value,
                    own_cgroup: in_dir(source, cpu_dir),
                }),
                _ => None,
            },
            cpu_weight: detection.cpu_weight.as_ref().map(|r| r.value),
            host_cpus: detection.host.cpus.value(),
            host_memory: detection.host.memory.value(),
            cpuset_cpus: detection.cpuset.value().map(|set| set.count),
            controllers: detection.controllers.clone(),
        }
    }
}

/// `--heap-percent`, the one policy knob.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Policy {
    pub heap_percent: Option<f64>,
}

/// What the JVM would see by itself.
#[derive(Debug, Clone, PartialEq)]
pub struct JvmView {
    /// The memory it would size itself for; `None`: the host's.
    pub memory: Option<u64>,
    /// The CPUs it would count; `None` when that cannot be known (the host's count is unknown).
    pub cpus: Option<u32>,
    /// How it gets that CPU count, for the reasons.
    pub cpus_why: String,
}

/// Whether the JVM reads the container's limits at all, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Sight {
    /// It sizes itself from the host (also true when it only might: then `views` has both).
    pub blind: bool,
    pub why: String,
    /// What it would see: one view, or two when the JDK's container support is uncertain.
    pub views: Vec<JvmView>,
}

/// The flags and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub flags: Vec<String>,
    pub reasons: Vec<String>,
    /// What the user should hear about even without `-v`.
    pub warnings: Vec<String>,
    pub budget: Option<HeapBudget>,
    pub sight: Sight,
    /// The collectors that may run: one when jwrap knows, else every one that can (the budget
    /// is then the one for the largest share).
    pub collectors: Vec<Collector>,
    /// The heap the user's own setting gives, when one does and jwrap can tell its size: MiB
    /// and the setting.
    pub users_heap: Option<(u64, String)>,
}

/// A size as the JVM reads it: whole MiB as `NNNm`, anything else as `NNNk` (both accepted by
/// every JDK since 6).
/// The user's own setting that decides the heap, if any: `-Xmx`, then a RAM percentage, then
/// `-XX:MaxRAM` (the one jwrap then defers to; `plan` names it when explaining an OOM kill).
#[must_use]
pub fn user_heap_setting(user: &UserSettings) -> Option<&UserSetting> {
    [Knob::MaxHeap, Knob::RamShare, Knob::MaxRam]
        .into_iter()
        .find_map(|knob| user.get(knob))
}

#[must_use]
pub fn size_flag(bytes: u64) -> String {
    if bytes % MIB == 0 {
        format!("{}m", bytes / MIB)
    } else if bytes >= 1024 {
        format!("{}k", bytes / 1024)
    } else {
        // In bytes: rounded down to kibibytes, a limit under 1 KiB would be `0k`.
        bytes.to_string()
    }
}

/// v1 `cpu.shares` of 1024 and v2 `cpu.weight` of 100 are the defaults: "no shares".
const V1_DEFAULT_SHARES: u64 = 1024;
const V2_DEFAULT_WEIGHT: u64 = 100;
/// The JDK's `PER_CPU_SHARES`: 1024 shares are one CPU.
const SHARES_PER_CPU: u64 = 1024;

/// The CPU count a shares-counting JDK derives from v1 `cpu.shares` or v2 `cpu.weight`
/// (`HotSpot`'s `cpu_shares()`: v2 weights are mapped back to OCI shares and rounded to the
/// nearest multiple of 1024). `None` for the default value.
#[must_use]
pub fn cpus_from_shares(version: Option<u8>, weight: u64) -> Option<u32> {
    let shares = if let Some(2) = version {
        if weight == V2_DEFAULT_WEIGHT {
            return None;
        }
        // The inverse of the OCI mapping weight = 1 + (shares − 2) × 9999 / 262142.
        let scaled = 262_142_u64.saturating_mul(weight).saturating_sub(1) / 9999 + 2;
        if scaled <= SHARES_PER_CPU {
            scaled
        } else {
            let lower = scaled / SHARES_PER_CPU * SHARES_PER_CPU;
            let upper = lower + SHARES_PER_CPU;
            if scaled - lower <= upper - scaled {
                lower
            } else {
                upper
            }
        }
    } else {
        if weight == V1_DEFAULT_SHARES {
            return None;
        }
        weight
    };
    Some(u32::try_from(shares.div_ceil(SHARES_PER_CPU).max(1)).unwrap_or(u32::MAX))
}

/// What a JVM would see, aware of the container or not.
fn view(jdk: &JdkFacts, aware: bool, cgroup: &CgroupFacts) -> JvmView {
    let affinity = if jdk.honours_affinity() {
        match (cgroup.host_cpus, cgroup.cpuset_cpus) {
            (Some(host), Some(set)) => Some(host.min(set)),
            (host, set) => host.or(set),
        }
    } else {
        cgroup.host_cpus
    };
    let affinity_why = if jdk.honours_affinity() {
        "the CPUs it may run on"
    } else {
        "the host's online CPUs (this JDK ignores affinity)"
    };
    if !aware {
        return JvmView {
            memory: None,
            cpus: affinity,
            cpus_why: affinity_why.to_string(),
        };
    }
    let visible = |own_cgroup: bool| own_cgroup || jdk.reads_parent_cgroups();
    let memory = cgroup.memory.and_then(|m| {
        // v1's memory.stat holds hierarchical_memory_limit, which every aware JDK reads.
        (cgroup.version == Some(1) || visible(m.own_cgroup)).then_some(m.value)
    });
    let quota = cgroup
        .cpu_quota
        .filter(|q| visible(q.own_cgroup))
        .map(|q| q.value.ceil().clamp(1.0, f64::from(u32::MAX)) as u32);
    let hidden_quota = cgroup.cpu_quota.is_some() && quota.is_none();
    let shares = if jdk.counts_cpu_shares() {
        cgroup
            .cpu_weight
            .and_then(|w| cpus_from_shares(cgroup.version, w))
    } else {
        None
    };
    let (limit, why) = match (quota, shares) {
        (Some(q), Some(s)) if !jdk.prefers_quota() => {
            (Some(q.min(s)), "the smaller of quota and shares")
        }
        (Some(q), _) => (Some(q), "the CPU quota"),
        (None, Some(s)) => (Some(s), "cpu shares ÷ 1024, as this JDK counts them"),
        (None, None) => (None, affinity_why),
    };
    let cpus = match (affinity, limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    };
    let mut cpus_why = why.to_string();
    if hidden_quota {
        cpus_why.push_str("; the CPU quota sits in a parent cgroup, which this JDK does not read");
    }
    JvmView {
        memory,
        cpus,
        cpus_why,
    }
}

/// Does the JVM read the container's limits, and what would it see?
#[must_use]
pub fn sight(jdk: &JdkFacts, cgroup: &CgroupFacts, user: &UserSettings) -> Sight {
    let support = jdk.container_support();
    // A JDK with container support may still not find the container: the kernel's controller
    // lists decide (see `own_detection`).
    let kernel_blindness = matches!(
        support,
        ContainerSupport::V1 | ContainerSupport::V1AndV2 | ContainerSupport::Uncertain
    )
    .then(|| own_detection(jdk, &cgroup.controllers).err())
    .flatten();
    let (blind, aware_views, why) = if let Some(off) = user.container_support_off() {
        (
            true,
            vec![false],
            format!("{off} turns container support off: the JVM sees the host"),
        )
    } else if cgroup.version.is_none() && !matches!(support, ContainerSupport::None) {
        (
            true,
            vec![false],
            "no cgroup hierarchy is mounted: the JVM sees the host".to_string(),
        )
    } else if let Some(why) = kernel_blindness {
        (true, vec![false], format!("{why}: it sees the host"))
    } else {
        match support {
            ContainerSupport::None | ContainerSupport::Unknown => (
                true,
                vec![false],
                format!("{}: it sees the host", jdk.support_reason()),
            ),
            // Such a build reads cgroup v1 at best: on v2 it surely sees the host.
            ContainerSupport::Uncertain if cgroup.version == Some(2) => {
                (true, vec![false], jdk.support_reason())
            }
            ContainerSupport::Uncertain => (true, vec![false, true], jdk.support_reason()),
            ContainerSupport::V1 if cgroup.version == Some(2) => (
                true,
                vec![false],
                format!(
                    "{}, and this host uses cgroup v2: it sees the host",
                    jdk.support_reason()
                ),
            ),
            ContainerSupport::V1 | ContainerSupport::V1AndV2 => (
                false,
                vec![true],
                format!("{}: it sees the container", jdk.support_reason()),
            ),
        }
    };
    Sight {
        blind,
        why,
        views: aware_views
            .into_iter()
            .map(|aware| view(jdk, aware, cgroup))
            .collect(),
    }
}

/// The controllers a container-aware JDK needs before it reads any limit.
const REQUIRED_V2: [&str; 2] = ["cpu", "memory"];
const REQUIRED_PROC_CGROUPS: [&str; 3] = ["memory", "cpu", "cpuacct"];

/// The JDK's own detection, from the files it reads before any limit (`HotSpot`'s
/// `CgroupSubsystemFactory`): `Err` with the reason when it will turn container support off.
///
/// * A JDK with JDK-8349988, on a cgroup2 `/sys/fs/cgroup`, reads that directory's
///   `cgroup.controllers` and needs `cpu` and `memory` there.
/// * Every other container-aware JDK reads `/proc/cgroups` and needs an enabled row for
///   `memory`, `cpu` and `cpuacct`, and for `cpuset` before JDK-8347129. Kernels from 6.12 leave
///   out the rows of controllers they have no cgroup v1 support for (built without
///   `CONFIG_MEMCG_V1`: no `memory` row; without `CONFIG_CPUSETS_V1`: no `cpuset` row).
///
/// A file the root does not hold is no evidence (every kernel with cgroups has both), so
/// detection is then taken to succeed.
pub fn own_detection(jdk: &JdkFacts, controllers: &KernelControllers) -> Result<(), String> {
    if jdk.detects_v2_from_its_mount() && controllers.sys_fs_cgroup_is_v2 {
        let Some(listed) = &controllers.v2_root else {
            return Ok(());
        };
        let missing: Vec<&str> = REQUIRED_V2
            .into_iter()
            .filter(|name| !listed.iter().any(|c| c == name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "/sys/fs/cgroup/cgroup.controllers lacks {}, which this JDK requires, so it turns \
             container support off",
            missing.join(" and ")
        ));
    }
    let Some(rows) = &controllers.proc_cgroups else {
        return Ok(());
    };
    let cpuset = (!jdk.cpuset_optional()).then_some("cpuset");
    let missing: Vec<&str> = REQUIRED_PROC_CGROUPS
        .into_iter()
        .chain(cpuset)
        .filter(|name| !rows.iter().any(|row| row.name == *name && row.enabled))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut why = format!(
        "/proc/cgroups has no enabled {} row, and this JDK requires one there, so it turns \
         container support off",
        missing.join(", ")
    );
    if missing.contains(&"memory") || missing.contains(&"cpuset") {
        why.push_str(
            " (kernels from 6.12 built without cgroup v1 memory or cpuset leave those rows out; \
             JDKs read the controllers from /sys/fs/cgroup instead since JDK-8349988: 25, \
             21.0.12, 11.0.32, 8u502",
        );
        why.push_str(if missing.contains(&"cpuset") {
            "; a missing cpuset is fine since JDK-8347129: 25)"
        } else {
            ")"
        });
    }
    Err(why)
}

/// The JVM's defaults for its GC and compiler threads, from a CPU count (`HotSpot`'s formulas,
/// doc/sizing.md), for JDKs that cannot be told the count with `-XX:ActiveProcessorCount`.
fn thread_count_flags(cpus: u32) -> Vec<String> {
    let n = cpus.max(1);
    let parallel = if n <= 8 { n } else { 8 + (n - 8) * 5 / 8 };
    let concurrent = ((parallel + 2) / 4).max(1);
    // Tiered compilation: log2(n) × log2(log2(n)) × 3 / 2, at least 2 (one C1, one C2).
    let log = n.ilog2();
    let log_log = log.max(1).ilog2();
    let compilers = (log * log_log * 3 / 2).max(2);
    let fork_join = (n - 1).max(1);
    vec![
        format!("-XX:ParallelGCThreads={parallel}"),
        format!("-XX:ConcGCThreads={concurrent}"),
        format!("-XX:CICompilerCount={compilers}"),
        format!("-Djava.util.concurrent.ForkJoinPool.common.parallelism={fork_join}"),
    ]
}

/// The decision. Total: every input gives flags (maybe none) and reasons.
#[must_use]
pub fn decide(
    limits: &Limits,
    jdk: &JdkFacts,
    cgroup: &CgroupFacts,
    policy: &Policy,
    user: &UserSettings,
) -> Decision {
    let sight = sight(jdk, cgroup, user);
    let mut decision = Decision {
        flags: Vec::new(),
        reasons: vec![format!("container support: {}", sight.why)],
        warnings: Vec::new(),
        budget: None,
        sight,
        collectors: Vec::new(),
        users_heap: None,
    };
    for hidden in &user.hidden {
        match hidden {
            // Every start script: a note, not a warning on every start.
            Hidden::Launcher(_) => decision.reasons.push(format!(
                "{hidden}: the settings jwrap found stand, and the budget allows for any collector"
            )),
            Hidden::NotAFile { .. } => decision.warnings.push(format!(
                "{hidden}: sized as if it may set anything (the budget allows for any collector; \
                 a heap set there wins over jwrap's)"
            )),
        }
    }
    let cpus = known_cpus(limits, cgroup);
    memory_flags(
        &mut decision,
        limits,
        cpus,
        jdk,
        cgroup.host_memory,
        policy,
        user,
    );
    cpu_flags(&mut decision, cpus, jdk, user);
    if jdk.openj9 {
        decision.reasons.push(
            "OpenJ9: sized like HotSpot; OpenJ9 ignores the -XX options it does not have"
                .to_string(),
        );
    }
    decision
}

/// The CPUs the runtime should plan for, or `None` when nothing says: no quota, no cpuset and
/// the host's count unreadable. jwrap then never invents a count.
fn known_cpus(limits: &Limits, cgroup: &CgroupFacts) -> Option<u32> {
    let anything_read =
        limits.cpu.value().is_some() || cgroup.host_cpus.is_some() || cgroup.cpuset_cpus.is_some();
    anything_read.then_some(limits.effective_cpus)
}

/// `HotSpot` counts itself a server-class machine, and picks G1 (Parallel on JDK 8) instead of
/// Serial, with at least 2 processors and 2 GiB − 256 MiB of memory.
const SERVER_CLASS_CPUS: u32 = 2;
const SERVER_CLASS_MEMORY: u64 = 1792 * MIB;

/// JEP 523: from JDK 27, `HotSpot` picks G1 in every environment.
const G1_EVERYWHERE_FROM: u32 = 27;

/// The collectors that may run: the user's choice, else what the JVM's ergonomics pick from
/// the memory and CPUs it sees (after jwrap's CPU flags). With two possible views (uncertain
/// container support), Serial only if both lead to it. Where options may come from a place
/// jwrap cannot read, any collector may run: then all of them, and the budget is the one for
/// the largest share.
fn collectors(
    sight: &Sight,
    cpus: Option<u32>,
    jdk: &JdkFacts,
    host_memory: Option<u64>,
    user: &UserSettings,
) -> (Vec<Collector>, String) {
    if let Some(choice) = user.get(Knob::Collector) {
        // HotSpot refuses to start with two collectors chosen: a choice anywhere is the one.
        let collector = Collector::from_option(&choice.option).unwrap_or(Collector::Unmeasured);
        let measured = if collector == Collector::Unmeasured {
            " (not measured: budgeted like G1)"
        } else {
            ""
        };
        return (
            vec![collector],
            format!(
                "collector: {}, as {choice} chooses{measured}",
                collector.name()
            ),
        );
    }
    if !user.hidden.is_empty() {
        return (
            vec![Collector::Serial, Collector::Parallel, Collector::G1],
            "collector: unknown (options may come from where jwrap cannot look): budgeted for \
             the one with the largest share"
                .to_string(),
        );
    }
    let feature = jdk.version.as_ref().map(|v| v.feature);
    if feature.is_some_and(|f| f >= G1_EVERYWHERE_FROM) {
        return (
            vec![Collector::G1],
            format!("collector: G1, the pick of JDK {G1_EVERYWHERE_FROM}+ in every environment"),
        );
    }
    let serial = !sight.views.is_empty()
        && sight.views.iter().all(|view| {
            let memory = view.memory.or(host_memory);
            let cpus = if jdk.has_active_processor_count() && cpus.is_some() {
                cpus
            } else {
                view.cpus
            };
            memory.is_some_and(|m| m < SERVER_CLASS_MEMORY)
                || cpus.is_some_and(|c| c < SERVER_CLASS_CPUS)
        });
    if serial {
        return (
            vec![Collector::Serial],
            "collector: Serial, the JVM's pick below 2 CPUs or 1792 MiB".to_string(),
        );
    }
    let server = match feature {
        Some(8) => vec![Collector::Parallel],
        Some(_) => vec![Collector::G1],
        None => vec![Collector::Parallel, Collector::G1],
    };
    let names: Vec<&str> = server.iter().map(|c| c.name()).collect();
    (
        server.clone(),
        format!(
            "collector: {}, the JVM's pick with 2 CPUs and 1792 MiB or more",
            names.join(" or ")
        ),
    )
}

/// The heap `HotSpot` gives itself from `memory` (its `set_heap_size`): the `MaxRAMPercentage`
/// share, at least its default `MaxHeapSize` (96 MiB scaled by 1.3 for 64-bit words), or the
/// `MinRAMPercentage` share when that is below it (small memories). Percentages in per mille.
fn jvm_heap(memory: u64, max_per_mille: u64, min_per_mille: u64) -> u64 {
    const DEFAULT_MAX_HEAP: u64 = 96 * MIB * 13 / 10;
    let reasonable_min = memory / 1000 * min_per_mille;
    if reasonable_min < DEFAULT_MAX_HEAP {
        reasonable_min
    } else {
        (memory / 1000 * max_per_mille).max(DEFAULT_MAX_HEAP)
    }
}

/// The heap a user's setting gives, in MiB, when jwrap can tell: `-Xmx`, or a RAM share or
/// `-XX:MaxRAM` applied to the memory the JVM will size itself for (`limit`, which it sees or
/// jwrap's `-XX:MaxRAM` tells it).
fn users_heap(user: &UserSettings, limit: u64) -> Option<(u64, String)> {
    let per_mille = |name: &str| -> Option<u64> {
        user.settings
            .iter()
            .rev()
            .find(|s| s.knob == Knob::RamShare && s.option.starts_with(name))
            .and_then(|s| s.option.split_once('=')?.1.parse::<f64>().ok())
            .filter(|p| p.is_finite() && *p >= 0.0)
            .map(|p| (p * 10.0) as u64)
    };
    let heap = [Knob::MaxHeap, Knob::RamShare, Knob::MaxRam]
        .into_iter()
        .find_map(|knob| user.get(knob))?;
    let memory = user
        .get(Knob::MaxRam)
        .and_then(super::userflags::UserSetting::bytes)
        .unwrap_or(limit);
    let bytes = if heap.knob == Knob::MaxHeap {
        heap.bytes()?
    } else {
        // MaxRAMFraction=n is 100/n %; only the percentages are read here.
        let max = per_mille("-XX:MaxRAMPercentage=").unwrap_or(250);
        let min = per_mille("-XX:MinRAMPercentage=").unwrap_or(500);
        if user
            .settings
            .iter()
            .any(|s| s.option.contains("RAMFraction="))
        {
            return None;
        }
        jvm_heap(memory, max, min)
    };
    Some((bytes / MIB, heap.to_string()))
}

fn memory_flags(
    decision: &mut Decision,
    limits: &Limits,
    cpus: Option<u32>,
    jdk: &JdkFacts,
    host_memory: Option<u64>,
    policy: &Policy,
    user: &UserSettings,
) {
    let Limit::Set { value: limit, .. } = limits.memory else {
        decision.reasons.push(format!(
            "no memory limit ({}): no heap or memory flags, the JVM's own defaults stand",
            limits.memory.state()
        ));
        return;
    };
    let user_bytes = |knob: Knob| {
        user.get(knob)
            .and_then(super::userflags::UserSetting::bytes)
    };
    let regions = UserRegions {
        metaspace: user_bytes(Knob::Metaspace),
        code_cache: user_bytes(Knob::CodeCache),
        direct_memory: user_bytes(Knob::DirectMemory),
    };
    let (collectors, collector_why) = collectors(&decision.sight, cpus, jdk, host_memory, user);
    decision.reasons.push(collector_why);
    // The budget for the collector with the largest share: the smallest heap.
    let budget = collectors
        .iter()
        .map(|&c| budget::budget(limit, &regions, c, policy.heap_percent))
        .min_by_key(|b| b.heap_mib)
        .unwrap_or_else(|| budget::budget(limit, &regions, Collector::G1, policy.heap_percent));
    decision.collectors = collectors;

    // Whether the JVM sizes itself for the limit: if not, -XX:MaxRAM tells it the limit (before
    // JDK 26), or the flags MaxRAM would have led to are given (from 26, where it is deprecated).
    let sees_limit = decision.sight.views.iter().all(|v| v.memory == Some(limit));
    let without_max_ram =
        !sees_limit && jdk.max_ram_deprecated() && user.get(Knob::MaxRam).is_none();

    // The heap.
    let heap_setting = user_heap_setting(user);
    // The largest heap the JVM will have, when known: jwrap's -Xmx or the user's.
    let mut heap_bytes = user
        .get(Knob::MaxHeap)
        .and_then(super::userflags::UserSetting::bytes);
    match heap_setting {
        Some(setting) if setting.knob == Knob::RamShare && without_max_ram => {
            let heap = percent_heap(limit, user);
            heap_bytes = Some(heap);
            decision.users_heap = users_heap(user, limit);
            decision.flags.push(format!("-Xmx{}", size_flag(heap)));
            decision.reasons.push(format!(
                "-Xmx{}: {setting} applied to the {} limit as the JVM's ergonomics would; the JVM \
                 would apply it to {}, and -XX:MaxRAM, which told it the limit, is deprecated \
                 from JDK 26 (JDK-8369346)",
                size_flag(heap),
                human_bytes(limit),
                seen_memory(&decision.sight, host_memory),
            ));
        }
        Some(setting) => {
            decision.users_heap = users_heap(user, limit);
            match &decision.users_heap {
                Some((mib, _)) => decision.reasons.push(format!(
                    "{setting} sizes the heap (about {mib} MiB): no -Xmx from jwrap"
                )),
                None => decision
                    .reasons
                    .push(format!("{setting} sizes the heap: no -Xmx from jwrap")),
            }
            if let Some((mib, setting)) = &decision.users_heap {
                if *mib > budget.heap_mib {
                    decision.warnings.push(format!(
                        "{setting} gives a heap of about {mib} MiB, above the {} MiB this {} \
                         limit leaves beside the JVM's other memory: the kernel may kill it \
                         before it can throw an OutOfMemoryError",
                        budget.heap_mib,
                        human_bytes(limit)
                    ));
                }
            }
        }
        None => {
            let mut heap = budget.heap_mib;
            decision.reasons.push(budget.to_string());
            if budget.rule == HeapRule::Cramped || budget.rule == HeapRule::Minimum {
                decision.warnings.push(format!(
                    "no heap is both safe and useful in a {} limit with this JVM's other memory: \
                     jwrap picked the safe {heap} MiB (a Java OutOfMemoryError rather than a \
                     kernel kill); give the container more memory",
                    human_bytes(limit)
                ));
            }
            if let Some(initial) = user.get(Knob::InitialHeap) {
                let initial_mib = initial.bytes().map_or(0, |b| b.div_ceil(MIB));
                if initial_mib > heap {
                    decision.reasons.push(format!(
                        "{initial} is above the budget: -Xmx raised to it, or the JVM would refuse to start"
                    ));
                    heap = initial_mib;
                }
            }
            decision.flags.push(format!("-Xmx{heap}m"));
            heap_bytes = Some(heap * MIB);
        }
    }

    // The JVM's own view of the memory, for its other ergonomics and for a user's percentage.
    if !sees_limit {
        match user.get(Knob::MaxRam) {
            Some(setting) => {
                decision.reasons.push(format!("{setting} stands"));
                if jdk.max_ram_deprecated() {
                    decision.warnings.push(format!(
                        "{setting}: -XX:MaxRAM is deprecated from JDK 26 (JDK-8369346), ignored \
                         in 27 and refused in 28; -Xmx and -XX:InitialHeapSize do the same"
                    ));
                }
            }
            None if without_max_ram => {
                initial_heap_flag(decision, limit, heap_bytes, jdk, host_memory, user);
            }
            None => {
                decision
                    .flags
                    .push(format!("-XX:MaxRAM={}", size_flag(limit)));
                decision.reasons.push(format!(
                    "-XX:MaxRAM={}: the JVM would size itself for {}, not the {} limit",
                    size_flag(limit),
                    seen_memory(&decision.sight, host_memory),
                    human_bytes(limit)
                ));
            }
        }
    }

    // The regions the budget assumed, bounded so they cannot outgrow it.
    let bounds = [
        (
            Knob::Metaspace,
            Region::Metaspace,
            "-XX:MaxMetaspaceSize",
            "unbounded by default",
        ),
        (
            Knob::CodeCache,
            Region::CodeCache,
            "-XX:ReservedCodeCacheSize",
            "240 MiB by default",
        ),
        (
            Knob::DirectMemory,
            Region::DirectMemory,
            "-XX:MaxDirectMemorySize",
            "as large as the heap by default",
        ),
    ];
    for (knob, region, flag, default) in bounds {
        if let Some(setting) = user.get(knob) {
            decision.reasons.push(format!("{setting} stands"));
            continue;
        }
        if region == Region::Metaspace && !jdk.has_metaspace() {
            decision.reasons.push(
                "no -XX:MaxMetaspaceSize: a JDK before 8 (or of unknown version) may not have \
                 metaspace, and PermGen is bounded by default"
                    .to_string(),
            );
            continue;
        }
        if let Some(size) = budget.region(region) {
            if region == Region::Metaspace {
                let bound = metaspace_bound(size.mib, limit / MIB);
                decision.flags.push(format!("{flag}={bound}m"));
                decision.reasons.push(format!(
                    "{flag}={bound}m: metaspace is {default}; the budget expects {} MiB, the \
                     bound leaves a class-heavy app (a Spring service: 60–100 MiB) room to \
                     start",
                    size.mib
                ));
                continue;
            }
            decision.flags.push(format!("{flag}={}m", size.mib));
            decision.reasons.push(format!(
                "{flag}={}m: {} is {default}",
                size.mib,
                region.name()
            ));
        }
    }
    decision.budget = Some(budget);
}

/// `HotSpot`'s `MaxHeapSize` default, 96 MiB scaled for 64-bit words (× 13/10): below twice it,
/// the JVM's ergonomics take `MinRAMPercentage` of the memory for the heap.
const DEFAULT_MAX_HEAP_SIZE: u64 = 130_862_280;
const DEFAULT_MAX_RAM_PERCENT: f64 = 25.0;
const DEFAULT_MIN_RAM_PERCENT: f64 = 50.0;
/// The initial heap `HotSpot` picks for itself is never below 8 MiB (measured with JDK 17:
/// `-XX:MaxRAM=64m` and `256m` both give `InitialHeapSize` and `MinHeapSize` 8 MiB). An explicit
/// smaller `InitialHeapSize` would also lower `MinHeapSize`, so jwrap's is at least this.
const INITIAL_HEAP_FLOOR: u64 = 8 * MIB;

/// The user's `-XX:{name}Percentage` (or `{name}Fraction`, as a percentage), the last one given.
fn user_ram_percent(user: &UserSettings, name: &str) -> Option<f64> {
    user.settings
        .iter()
        .filter(|s| s.knob == Knob::RamShare)
        .filter_map(|s| {
            let (flag, value) = s.option.strip_prefix("-XX:")?.split_once('=')?;
            let value: f64 = value.trim().parse().ok()?;
            let percent = flag.strip_prefix(name)?;
            match percent {
                "Percentage" => Some(value),
                "Fraction" if value > 0.0 => Some(100.0 / value),
                _ => None,
            }
        })
        .next_back()
}

/// The heap `HotSpot`'s ergonomics give for `memory` with the user's RAM percentages
/// (`Arguments::set_heap_size`): `MaxRAMPercentage` of it, but never below the `MaxHeapSize`
/// default, unless memory is so small that `MinRAMPercentage` of it is below that default: then
/// `MinRAMPercentage` of it. Rounded up to whole MiB, at least 1: `HotSpot` rounds up to the heap's
/// alignment (a multiple of 1 MiB), so the JVM ends with the same size it would have picked.
fn percent_heap(memory: u64, user: &UserSettings) -> u64 {
    let max_percent = user_ram_percent(user, "MaxRAM").unwrap_or(DEFAULT_MAX_RAM_PERCENT);
    let min_percent = user_ram_percent(user, "MinRAM").unwrap_or(DEFAULT_MIN_RAM_PERCENT);
    let share = |percent: f64| (memory as f64 * percent / 100.0) as u64;
    let small = share(min_percent);
    let heap = if small < DEFAULT_MAX_HEAP_SIZE {
        small
    } else {
        share(max_percent).max(DEFAULT_MAX_HEAP_SIZE)
    };
    heap.div_ceil(MIB).max(1) * MIB
}

/// From JDK 26, in place of `-XX:MaxRAM`: the initial heap the JVM would take from the limit
/// (`InitialRAMPercentage` of it, the user's or the JDK's default), which is all `MaxRAM` still
/// drives once the maximum heap is given (the collector and thread counts follow the memory
/// and CPUs the JVM sees, direct memory follows the heap or its own bound).
fn initial_heap_flag(
    decision: &mut Decision,
    limit: u64,
    heap_bytes: Option<u64>,
    jdk: &JdkFacts,
    host_memory: Option<u64>,
    user: &UserSettings,
) {
    if let Some(setting) = user.get(Knob::InitialHeap) {
        decision.reasons.push(format!("{setting} stands"));
        return;
    }
    let percent =
        user_ram_percent(user, "InitialRAM").unwrap_or_else(|| jdk.default_initial_ram_percent());
    let share = (limit as f64 * percent / 100.0) as u64;
    // Rounded up to whole MiB, as the JVM rounds its own up to the heap's alignment.
    let mut initial = (share.div_ceil(MIB) * MIB).max(INITIAL_HEAP_FLOOR);
    if let Some(heap) = heap_bytes {
        initial = initial.min(heap);
    }
    let flag = format!("-XX:InitialHeapSize={}", size_flag(initial));
    decision.reasons.push(format!(
        "{flag}: {percent} % of the {} limit (at least {} MiB); the JVM would take it from {}, \
         and -XX:MaxRAM, which told it the limit, is deprecated from JDK 26 (JDK-8369346)",
        human_bytes(limit),
        INITIAL_HEAP_FLOOR / MIB,
        seen_memory(&decision.sight, host_memory),
    ));
    decision.flags.push(flag);
}

/// Metaspace's bound is looser than its budget. Too little metaspace fails at start-up
/// ("`OutOfMemoryError`: Metaspace") whatever the heap, and what an app needs depends on its
/// class count, which jwrap does not know: the budget is what a typical service uses, the bound
/// a quarter of the limit (at most 256 MiB, at least the budget). An app that loads more than
/// its budget takes from the margin the heap leaves below the largest safe heap.
fn metaspace_bound(budget_mib: u64, limit_mib: u64) -> u64 {
    (limit_mib / METASPACE_BOUND_DIVISOR)
        .min(METASPACE_BOUND_CAP_MIB)
        .max(budget_mib)
}

const METASPACE_BOUND_DIVISOR: u64 = 4;
const METASPACE_BOUND_CAP_MIB: u64 = 256;

/// What the JVM would size itself for, in words.
fn seen_memory(sight: &Sight, host_memory: Option<u64>) -> String {
    let seen: Vec<String> = sight
        .views
        .iter()
        .map(|v| match (v.memory, host_memory) {
            (Some(bytes), _) => human_bytes(bytes),
            (None, Some(host)) => format!("the host's {}", human_bytes(host)),
            (None, None) => "the host's memory".to_string(),
        })
        .collect();
    seen.join(" or ")
}

/// `1 CPU`, `4 CPUs`.
fn cpus_text(count: u32) -> String {
    if count == 1 {
        "1 CPU".to_string()
    } else {
        format!("{count} CPUs")
    }
}

fn cpu_flags(decision: &mut Decision, cpus: Option<u32>, jdk: &JdkFacts, user: &UserSettings) {
    if let Some(setting) = [Knob::ProcessorCount, Knob::ThreadCounts]
        .into_iter()
        .find_map(|knob| user.get(knob))
    {
        decision.reasons.push(format!(
            "{setting} sets the CPU count: no CPU flags from jwrap"
        ));
        return;
    }
    let Some(wanted) = cpus else {
        decision.reasons.push(
            "the number of CPUs is unknown (no quota, no cpuset, the host's count unreadable): \
             no CPU flags, the JVM counts its own"
                .to_string(),
        );
        return;
    };
    let Some(miscount) = decision.sight.views.iter().find(|v| v.cpus != Some(wanted)) else {
        decision.reasons.push(format!(
            "the JVM counts {} itself, as jwrap does: no CPU flags",
            cpus_text(wanted)
        ));
        return;
    };
    let seen = miscount
        .cpus
        .map_or("an unknown number of CPUs".to_string(), cpus_text);
    let available = if wanted == 1 {
        "1 is".to_string()
    } else {
        format!("{wanted} are")
    };
    let why = format!(
        "the JVM would count {seen} ({}) but {available} available",
        miscount.cpus_why
    );
    if jdk.has_active_processor_count() {
        decision
            .flags
            .push(format!("-XX:ActiveProcessorCount={wanted}"));
        decision
            .reasons
            .push(format!("-XX:ActiveProcessorCount={wanted}: {why}"));
    } else {
        let flags = thread_count_flags(wanted);
        decision.reasons.push(format!(
            "{}: {why}; this JDK has no -XX:ActiveProcessorCount, so its GC, compiler and \
             fork-join threads are sized for {} instead (Runtime.availableProcessors() stays \
             as the JVM counts it)",
            flags.join(" "),
            cpus_text(wanted)
        ));
        decision.flags.extend(flags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_become_cpus_like_hotspot() {
        assert_eq!(cpus_from_shares(Some(1), 1024), None);
        assert_eq!(cpus_from_shares(Some(1), 512), Some(1));
        assert_eq!(cpus_from_shares(Some(1), 2), Some(1));
        assert_eq!(cpus_from_shares(Some(1), 2048), Some(2));
        assert_eq!(cpus_from_shares(Some(1), 2049), Some(3));
        assert_eq!(cpus_from_shares(Some(2), 100), None);
        // Kubernetes requests.cpu 500m: shares 512, weight 20.
        assert_eq!(cpus_from_shares(Some(2), 20), Some(1));
        // requests.cpu 2: shares 2048, weight 79 (maps back to 2073, nearest 2048).
        assert_eq!(cpus_from_shares(Some(2), 79), Some(2));
        assert_eq!(cpus_from_shares(Some(2), 10000), Some(256));
    }

    #[test]
    fn thread_counts_follow_hotspot() {
        let counts = |n| thread_count_flags(n);
        assert_eq!(
            counts(1),
            [
                "-XX:ParallelGCThreads=1",
                "-XX:ConcGCThreads=1",
                "-XX:CICompilerCount=2",
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=1"
            ]
        );
        assert_eq!(counts(4)[2], "-XX:CICompilerCount=3");
        assert_eq!(
            counts(4)[3],
            "-Djava.util.concurrent.ForkJoinPool.common.parallelism=3"
        );
        assert_eq!(counts(16)[0], "-XX:ParallelGCThreads=13");
        assert_eq!(counts(16)[1], "-XX:ConcGCThreads=3");
        assert_eq!(counts(16)[2], "-XX:CICompilerCount=12");
    }

    #[test]
    fn sizes_for_the_jvm() {
        assert_eq!(size_flag(512 * MIB), "512m");
        assert_eq!(size_flag(500_000_000), "488281k");
    }
}
