//! The decision over a matrix of JDKs × cgroup layouts × user settings in every channel:
//! no flag a JDK rejects, no duplicate of a user's setting, heaps within their bounds.
//!
//! Test code only: java/mod.rs declares it as `#[cfg(test)] mod matrix;`.

use super::budget::MIB;
use super::decide::{CgroupFacts, Decision, Placed, Policy, decide};
use super::userflags::{self, FileRead, Knob, Sources, UserSettings, classify};
use super::version::{JdkFacts, parse_version};
use crate::limits::{Limit, Limits, Source, effective_cpus};
use std::ffi::OsString;
use std::path::Path;

const GIB: u64 = 1 << 30;
const HOST_CPUS: u32 = 4;
const HOST_MEMORY: u64 = 64 * GIB;

/// The JDKs of the matrix: (name, version text, Oracle's build).
const JDKS: &[(&str, &str, bool)] = &[
    ("8u181", "1.8.0_181", false),
    ("8u191 vendor", "1.8.0_191", false),
    ("8u191 Oracle", "1.8.0_191", true),
    ("8u372", "1.8.0_372", false),
    ("11.0.9", "11.0.9", false),
    ("11.0.16", "11.0.16", false),
    ("17", "17", false),
    ("21", "21", false),
    ("25", "25", false),
];

fn jdk(version: &str, oracle: bool) -> JdkFacts {
    JdkFacts {
        version: parse_version(version),
        oracle,
        openj9: false,
    }
}

/// Whether a JDK starts with `flag`: the table of jvm-sizing.md §3.1 and §3.4, as data.
fn accepted(facts: &JdkFacts, flag: &str) -> bool {
    let Some(v) = &facts.version else {
        return false;
    };
    let name = flag.strip_prefix("-XX:").map(|f| {
        f.trim_start_matches(['+', '-'])
            .split('=')
            .next()
            .unwrap_or(f)
    });
    let jdk8_container = v.feature == 8 && (v.update >= 212 || (v.update >= 191 && facts.oracle));
    match name {
        // -X and -D options: every JDK.
        None => flag.starts_with("-Xmx") || flag.starts_with("-D"),
        Some(
            "MaxRAM"
            | "MaxDirectMemorySize"
            | "ReservedCodeCacheSize"
            | "ParallelGCThreads"
            | "ConcGCThreads"
            | "CICompilerCount",
        ) => true,
        Some("MaxMetaspaceSize") => v.feature >= 8,
        Some(
            "ActiveProcessorCount"
            | "UseContainerSupport"
            | "MaxRAMPercentage"
            | "MinRAMPercentage"
            | "InitialRAMPercentage",
        ) => v.feature >= 10 || jdk8_container,
        Some("UseCGroupMemoryLimitForHeap") => {
            (v.feature == 8 && v.update >= 131) || v.feature == 9 || v.feature == 10
        }
        Some("UseContainerCpuShares" | "PreferContainerQuotaForCPUCount") => v.feature <= 20,
        Some(_) => false,
    }
}

/// A cgroup layout and the limits jwrap found in it.
struct Layout {
    name: &'static str,
    cgroup: CgroupFacts,
    limits: Limits,
}

fn layout(
    name: &'static str,
    version: u8,
    memory: Option<(u64, bool)>,
    quota: Option<(f64, bool)>,
    weight: Option<u64>,
) -> Layout {
    let source = || Source::file("/sys/fs/cgroup/x", "x");
    let limits = Limits {
        memory: match memory {
            Some((value, _)) => Limit::Set {
                value,
                source: source(),
            },
            None => Limit::Unlimited { source: None },
        },
        cpu: match quota {
            Some((value, _)) => Limit::Set {
                value,
                source: source(),
            },
            None => Limit::Unlimited { source: None },
        },
        effective_cpus: effective_cpus(Some(HOST_CPUS), None, quota.map(|q| q.0)),
    };
    Layout {
        name,
        cgroup: CgroupFacts {
            version: Some(version),
            memory: memory.map(|(value, own_cgroup)| Placed { value, own_cgroup }),
            cpu_quota: quota.map(|(value, own_cgroup)| Placed { value, own_cgroup }),
            cpu_weight: weight,
            host_cpus: Some(HOST_CPUS),
            host_memory: Some(HOST_MEMORY),
            cpuset_cpus: None,
        },
        limits,
    }
}

fn layouts() -> Vec<Layout> {
    vec![
        layout("v1 1g", 1, Some((GIB, true)), None, Some(1024)),
        layout(
            "v1 1g 2cpu",
            1,
            Some((GIB, true)),
            Some((2.0, true)),
            Some(1024),
        ),
        layout(
            "v1 512m shares 512",
            1,
            Some((512 * MIB, true)),
            None,
            Some(512),
        ),
        layout(
            "v1 1g on parent, quota on parent",
            1,
            Some((GIB, false)),
            Some((1.5, false)),
            None,
        ),
        layout("v2 1g", 2, Some((GIB, true)), None, Some(100)),
        layout(
            "v2 2g 1cpu",
            2,
            Some((2 * GIB, true)),
            Some((1.0, true)),
            Some(100),
        ),
        layout(
            "v2 256m weight 20",
            2,
            Some((256 * MIB, true)),
            None,
            Some(20),
        ),
        layout(
            "v2 4g on parent, quota on parent",
            2,
            Some((4 * GIB, false)),
            Some((2.0, false)),
            Some(100),
        ),
        layout("v2 no limits", 2, None, None, Some(100)),
        layout("v1 no limits", 1, None, None, Some(1024)),
    ]
}

/// A user's option, in one channel.
#[derive(Clone, Copy, Debug)]
enum Channel {
    ToolOptions,
    JdkJavaOptions,
    CommandLine,
    ArgFile,
    JavaOptions,
}

const CHANNELS: [Channel; 5] = [
    Channel::ToolOptions,
    Channel::JdkJavaOptions,
    Channel::CommandLine,
    Channel::ArgFile,
    Channel::JavaOptions,
];

const USER_OPTIONS: &[&str] = &[
    "-Xmx300m",
    "-XX:MaxHeapSize=300m",
    "-XX:MaxRAMPercentage=60.0",
    "-XX:MaxRAM=1g",
    "-Xss512k",
    "-XX:MaxMetaspaceSize=200m",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:MaxDirectMemorySize=16m",
    "-XX:ActiveProcessorCount=3",
    "-XX:ParallelGCThreads=2",
    "-XX:-UseContainerSupport",
];

/// The user's settings with `option` in `channel`, scanned as jwrap scans them.
fn user_settings(facts: &JdkFacts, channel: Channel, option: &str) -> UserSettings {
    let argfile_text = option.to_string();
    let read = move |path: &Path| -> FileRead {
        if path == Path::new("jvm.args") {
            FileRead::Text(argfile_text.clone())
        } else {
            FileRead::Failed("no such file".to_string())
        }
    };
    let mut command: Vec<OsString> = Vec::new();
    let mut sources = Sources {
        argfiles: facts.has_launcher_options(),
        ..Sources::default()
    };
    match channel {
        Channel::ToolOptions => sources.java_tool_options = Some(option),
        Channel::JdkJavaOptions => {
            sources.jdk_java_options = Some(option).filter(|_| facts.has_launcher_options());
        }
        Channel::CommandLine => command.push(option.into()),
        Channel::ArgFile => command.push("@jvm.args".into()),
        Channel::JavaOptions => sources.java_options = Some(option),
    }
    command.extend(["-jar", "app.jar", "-Xmx9g"].map(OsString::from));
    sources.command_line = Some(&command);
    userflags::scan(&sources, &read)
}

fn heap_mib(decision: &Decision) -> Option<u64> {
    decision
        .flags
        .iter()
        .find_map(|f| f.strip_prefix("-Xmx")?.strip_suffix('m')?.parse().ok())
}

fn check(decision: &Decision, facts: &JdkFacts, user: &UserSettings, context: &str) {
    let mut seen = Vec::new();
    for flag in &decision.flags {
        assert!(
            accepted(facts, flag),
            "{context}: {flag} is rejected by this JDK: {decision:#?}"
        );
        assert!(
            !flag.contains("Percentage=") || flag.contains('.'),
            "{context}: {flag}"
        );
        let name = flag.split('=').next().unwrap_or(flag);
        assert!(!seen.contains(&name), "{context}: {flag} twice");
        seen.push(name);
        if let Some(knob) = classify(flag) {
            assert!(
                user.get(knob).is_none(),
                "{context}: {flag} duplicates the user's {:?}",
                user.get(knob)
            );
            if knob == Knob::MaxHeap {
                for theirs in [Knob::RamShare, Knob::MaxRam] {
                    assert!(
                        user.get(theirs).is_none(),
                        "{context}: -Xmx over the user's {theirs:?}"
                    );
                }
            }
            if matches!(knob, Knob::ProcessorCount | Knob::ThreadCounts) {
                for theirs in [Knob::ProcessorCount, Knob::ThreadCounts] {
                    assert!(
                        user.get(theirs).is_none(),
                        "{context}: CPU flag over the user's {theirs:?}"
                    );
                }
            }
        }
    }
    assert!(!decision.reasons.is_empty());
}

#[test]
fn no_rejected_flag_and_no_duplicate_for_any_jdk_layout_or_channel() {
    let mut decisions = 0;
    for &(name, version, oracle) in JDKS {
        let facts = jdk(version, oracle);
        for layout in layouts() {
            for channel in CHANNELS {
                for option in USER_OPTIONS.iter().copied().chain([""]) {
                    let user = user_settings(&facts, channel, option);
                    for heap_percent in [None, Some(70.0)] {
                        let policy = Policy { heap_percent };
                        let decision =
                            decide(&layout.limits, &facts, &layout.cgroup, &policy, &user);
                        let context = format!(
                            "{name}, {}, {option:?} in {channel:?}, {heap_percent:?}",
                            layout.name
                        );
                        check(&decision, &facts, &user, &context);
                        decisions += 1;
                    }
                }
            }
        }
    }
    assert_eq!(
        decisions,
        JDKS.len() * layouts().len() * CHANNELS.len() * (USER_OPTIONS.len() + 1) * 2
    );
}

#[test]
fn a_user_setting_in_any_channel_wins() {
    for &(name, version, oracle) in JDKS {
        let facts = jdk(version, oracle);
        let layout = layout("v2 1g", 2, Some((GIB, true)), Some((2.0, true)), None);
        for channel in CHANNELS {
            let user = user_settings(&facts, channel, "-Xmx300m");
            let decision = decide(
                &layout.limits,
                &facts,
                &layout.cgroup,
                &Policy::default(),
                &user,
            );
            let ignored = matches!(channel, Channel::JdkJavaOptions | Channel::ArgFile)
                && !facts.has_launcher_options();
            assert_eq!(
                heap_mib(&decision).is_none(),
                !ignored,
                "{name} {channel:?}: {:?}",
                decision.flags
            );
        }
    }
}

#[test]
fn options_after_the_main_class_are_the_applications() {
    let facts = jdk("17", false);
    let user = user_settings(&facts, Channel::CommandLine, "-Xss1m");
    assert!(
        user.get(Knob::MaxHeap).is_none(),
        "-Xmx9g after -jar app.jar was taken: {user:?}"
    );
    let layout = layout("v1 1g", 1, Some((GIB, true)), None, None);
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &user,
    );
    assert!(heap_mib(&decision).is_some());
}

#[test]
fn heap_bounds_for_every_jdk() {
    for &(name, version, oracle) in JDKS {
        let facts = jdk(version, oracle);
        let mut previous = 0;
        for limit_mib in [128, 256, 512, 1024, 2048, 4096, 16384, 65536] {
            let layout = layout("v1", 1, Some((limit_mib * MIB, true)), None, None);
            let decision = decide(
                &layout.limits,
                &facts,
                &layout.cgroup,
                &Policy::default(),
                &UserSettings::default(),
            );
            let heap = heap_mib(&decision).unwrap_or_else(|| panic!("{name} {limit_mib}: no heap"));
            if limit_mib >= 512 {
                assert!(
                    heap * 100 >= limit_mib * 50 && heap * 100 <= limit_mib * 85,
                    "{name} {limit_mib}: {heap}"
                );
            } else if limit_mib >= 256 {
                assert!(heap >= limit_mib / 4, "{name} {limit_mib}: {heap}");
            } else {
                // No heap is both safe and useful: the safe one, said in a warning.
                assert!(
                    decision
                        .warnings
                        .iter()
                        .any(|w| w.contains("safe and useful")),
                    "{name} {limit_mib}: {heap} {:?}",
                    decision.warnings
                );
            }
            assert!(heap >= previous, "{name}: heap shrank at {limit_mib}");
            previous = heap;
            let budget = decision
                .budget
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(
                decision.reasons.contains(&budget),
                "{name}: the arithmetic is not among the reasons"
            );
        }
    }
}

#[test]
fn no_limit_means_no_memory_flag() {
    for &(name, version, oracle) in JDKS {
        let facts = jdk(version, oracle);
        for layout in layouts()
            .into_iter()
            .filter(|l| l.limits.memory.value().is_none())
        {
            let decision = decide(
                &layout.limits,
                &facts,
                &layout.cgroup,
                &Policy {
                    heap_percent: Some(50.0),
                },
                &UserSettings::default(),
            );
            let memory_flags: Vec<&String> = decision
                .flags
                .iter()
                .filter(|f| {
                    f.starts_with("-Xmx")
                        || matches!(
                            classify(f),
                            Some(
                                Knob::Metaspace
                                    | Knob::CodeCache
                                    | Knob::DirectMemory
                                    | Knob::MaxRam
                            )
                        )
                })
                .collect();
            assert!(
                memory_flags.is_empty(),
                "{name} {}: {memory_flags:?}",
                layout.name
            );
            assert!(decision.budget.is_none());
        }
    }
}

#[test]
fn heap_percent_replaces_the_policy() {
    let facts = jdk("17", false);
    let layout = layout("v2 1g", 2, Some((GIB, true)), None, None);
    for (percent, heap) in [(50.0, 512), (75.0, 768), (150.0, 1536)] {
        let decision = decide(
            &layout.limits,
            &facts,
            &layout.cgroup,
            &Policy {
                heap_percent: Some(percent),
            },
            &UserSettings::default(),
        );
        assert_eq!(heap_mib(&decision), Some(heap), "{percent}");
    }
}

/// What each JDK gets in typical containers.
fn flags_for(version: &str, oracle: bool, layout: &Layout) -> Vec<String> {
    decide(
        &layout.limits,
        &jdk(version, oracle),
        &layout.cgroup,
        &Policy::default(),
        &UserSettings::default(),
    )
    .flags
}

fn has(flags: &[String], prefix: &str) -> bool {
    flags.iter().any(|f| f.starts_with(prefix))
}

#[test]
fn blind_jdks_get_max_ram_and_thread_counts() {
    let v1_two_cpus = layout("v1 1g 2cpu", 1, Some((GIB, true)), Some((2.0, true)), None);
    let flags = flags_for("1.8.0_181", false, &v1_two_cpus);
    assert!(has(&flags, "-XX:MaxRAM=1024m"), "{flags:?}");
    assert!(!has(&flags, "-XX:ActiveProcessorCount"), "{flags:?}");
    for expected in [
        "-XX:ParallelGCThreads=2",
        "-XX:ConcGCThreads=1",
        "-XX:CICompilerCount=2",
        "-Djava.util.concurrent.ForkJoinPool.common.parallelism=1",
    ] {
        assert!(
            flags.contains(&expected.to_string()),
            "{expected} missing: {flags:?}"
        );
    }
    // The uncertain vendor 8u191 gets the same safe set.
    let flags = flags_for("1.8.0_191", false, &v1_two_cpus);
    assert!(
        has(&flags, "-XX:MaxRAM=")
            && has(&flags, "-XX:ParallelGCThreads=2")
            && !has(&flags, "-XX:ActiveProcessorCount")
    );
    // Oracle's 8u191 reads cgroup v1 itself.
    let flags = flags_for("1.8.0_191", true, &v1_two_cpus);
    assert!(
        !has(&flags, "-XX:MaxRAM")
            && !has(&flags, "-XX:ActiveProcessorCount")
            && !has(&flags, "-XX:ParallelGCThreads"),
        "{flags:?}"
    );
}

#[test]
fn v1_only_jdks_are_blind_on_v2() {
    let v2 = layout(
        "v2 2g 1cpu",
        2,
        Some((2 * GIB, true)),
        Some((1.0, true)),
        Some(100),
    );
    for (version, blind) in [
        ("11.0.9", true),
        ("1.8.0_362", true),
        ("11.0.16", false),
        ("1.8.0_372", false),
        ("17", false),
    ] {
        let flags = flags_for(version, false, &v2);
        assert_eq!(
            has(&flags, "-XX:MaxRAM=2048m"),
            blind,
            "{version}: {flags:?}"
        );
        assert_eq!(
            has(&flags, "-XX:ActiveProcessorCount=1"),
            blind,
            "{version}: {flags:?}"
        );
    }
    let v1 = layout(
        "v1 2g 1cpu",
        1,
        Some((2 * GIB, true)),
        Some((1.0, true)),
        Some(1024),
    );
    let flags = flags_for("11.0.9", false, &v1);
    assert!(
        !has(&flags, "-XX:MaxRAM") && !has(&flags, "-XX:ActiveProcessorCount"),
        "{flags:?}"
    );
}

#[test]
fn share_counting_jdks_are_corrected() {
    let shares = layout(
        "v1 512m shares 512",
        1,
        Some((512 * MIB, true)),
        None,
        Some(512),
    );
    let weight = layout(
        "v2 256m weight 20",
        2,
        Some((256 * MIB, true)),
        None,
        Some(20),
    );
    for (version, miscounts) in [
        ("1.8.0_372", true),
        ("11.0.16", true),
        ("11.0.17", false),
        ("17.0.4", true),
        ("17.0.5", false),
        ("21", false),
    ] {
        for layout in [&shares, &weight] {
            let flags = flags_for(version, false, layout);
            assert_eq!(
                has(&flags, &format!("-XX:ActiveProcessorCount={HOST_CPUS}")),
                miscounts,
                "{version} {}: {flags:?}",
                layout.name
            );
        }
    }
}

#[test]
fn limits_on_a_parent_are_invisible_to_jdks_that_do_not_walk_up() {
    let parent = layout(
        "v2 4g on parent, quota on parent",
        2,
        Some((4 * GIB, false)),
        Some((2.0, false)),
        Some(100),
    );
    for (version, hidden) in [
        ("17", true),
        ("21.0.7", true),
        ("21.0.8", false),
        ("24", false),
    ] {
        let flags = flags_for(version, false, &parent);
        assert_eq!(
            has(&flags, "-XX:MaxRAM=4096m"),
            hidden,
            "{version}: {flags:?}"
        );
        assert_eq!(
            has(&flags, "-XX:ActiveProcessorCount=2"),
            hidden,
            "{version}: {flags:?}"
        );
    }
    // v1: memory.stat's hierarchical_memory_limit shows a parent's memory limit to every aware
    // JDK, but a parent's CPU quota stays hidden.
    let v1_parent = layout("v1 parent", 1, Some((GIB, false)), Some((2.0, false)), None);
    let flags = flags_for("17", false, &v1_parent);
    assert!(
        !has(&flags, "-XX:MaxRAM") && has(&flags, "-XX:ActiveProcessorCount=2"),
        "{flags:?}"
    );
}

#[test]
fn container_support_off_makes_any_jdk_blind() {
    let facts = jdk("21", false);
    let layout = layout(
        "v2 1g 2cpu",
        2,
        Some((GIB, true)),
        Some((2.0, true)),
        Some(100),
    );
    for channel in CHANNELS {
        let user = user_settings(&facts, channel, "-XX:-UseContainerSupport");
        let decision = decide(
            &layout.limits,
            &facts,
            &layout.cgroup,
            &Policy::default(),
            &user,
        );
        assert!(decision.sight.blind, "{channel:?}");
        assert!(
            has(&decision.flags, "-XX:MaxRAM=1024m")
                && has(&decision.flags, "-XX:ActiveProcessorCount=2"),
            "{channel:?}: {:?}",
            decision.flags
        );
    }
}

#[test]
fn an_unknown_version_gets_only_flags_every_jdk_accepts() {
    let unknown = JdkFacts::default();
    let layout = layout(
        "v2 1g 2cpu",
        2,
        Some((GIB, true)),
        Some((2.0, true)),
        Some(100),
    );
    let decision = decide(
        &layout.limits,
        &unknown,
        &layout.cgroup,
        &Policy::default(),
        &UserSettings::default(),
    );
    let oldest = jdk("1.7.0_80", false);
    for flag in &decision.flags {
        assert!(accepted(&oldest, flag), "{flag}");
    }
    assert!(has(&decision.flags, "-Xmx") && has(&decision.flags, "-XX:ParallelGCThreads=2"));
}

#[test]
fn a_users_initial_heap_raises_the_maximum() {
    let facts = jdk("17", false);
    let layout = layout("v1 512m", 1, Some((512 * MIB, true)), None, None);
    let user = user_settings(&facts, Channel::ToolOptions, "-Xms400m");
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &user,
    );
    assert_eq!(heap_mib(&decision), Some(400), "{:?}", decision.flags);
    let small = user_settings(&facts, Channel::ToolOptions, "-Xms64m");
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &small,
    );
    assert!(heap_mib(&decision).is_some_and(|heap| heap > 64 && heap < 400));
}

#[test]
fn the_users_region_sizes_enter_the_budget() {
    let facts = jdk("17", false);
    let layout = layout("v1 1g", 1, Some((GIB, true)), None, None);
    let user = user_settings(&facts, Channel::CommandLine, "-XX:MaxDirectMemorySize=400m");
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &user,
    );
    let plain = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &UserSettings::default(),
    );
    assert!(heap_mib(&decision) < heap_mib(&plain));
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.contains("direct memory 400 (yours)")),
        "{:?}",
        decision.reasons
    );
}
