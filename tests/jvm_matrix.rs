//! The decision over a matrix of JDKs × cgroup layouts × user settings in every channel:
//! no flag a JDK rejects, no duplicate of a user's setting, heaps within their bounds.

use jwrap::cgroup::KernelControllers;
use jwrap::java::decide::{CgroupFacts, Decision, Placed, Policy, decide};
use jwrap::java::userflags::{self, FileRead, Knob, Sources, UserSettings, classify};
use jwrap::java::version::{JdkFacts, parse_version};
use jwrap::limits::{Limit, Limits, Source, effective_cpus};
use jwrap::units::MIB;
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
    ("26", "26", false),
    ("27", "27", false),
    ("28", "28", false),
];

fn jdk(version: &str, oracle: bool) -> JdkFacts {
    JdkFacts {
        version: parse_version(version),
        oracle,
        openj9: false,
    }
}

/// The first JDK that has a flag.
#[derive(Debug, Clone, Copy)]
enum Since {
    /// Every JDK jwrap sizes (6 on).
    Always,
    /// This feature release on (no 8u backport).
    Feature(u32),
    /// Container support: 10, Oracle's 8u191 and every vendor's 8u212.
    ContainerSupport,
    /// This 8u update, and 9 on.
    Jdk8Update(u32),
}

/// One row of the accepted-flag table: when a `HotSpot` flag arrived, and the feature releases in
/// which it was deprecated (the JVM warns and obeys), made obsolete (the JVM warns and ignores
/// it) and expired (the JVM refuses to start: "Unrecognized VM option"), with the records that
/// say so.
struct FlagRow {
    name: &'static str,
    since: Since,
    deprecated: Option<u32>,
    obsolete: Option<u32>,
    expired: Option<u32>,
    source: &'static str,
}

const fn row(
    name: &'static str,
    since: Since,
    [deprecated, obsolete, expired]: [Option<u32>; 3],
    source: &'static str,
) -> FlagRow {
    FlagRow {
        name,
        since,
        deprecated,
        obsolete,
        expired,
        source,
    }
}

const CURRENT: [Option<u32>; 3] = [None, None, None];

/// Every `-XX` flag jwrap may emit or reads from the user, as data.
const FLAGS: &[FlagRow] = &[
    row(
        "MaxRAM",
        Since::Always,
        [Some(26), Some(27), Some(28)],
        "JDK-8369346 (deprecated in 26), CSR JDK-8369347 (obsolete 27, expired 28)",
    ),
    row("InitialHeapSize", Since::Always, CURRENT, "every JDK"),
    row("MaxHeapSize", Since::Always, CURRENT, "every JDK"),
    row("MaxDirectMemorySize", Since::Always, CURRENT, "every JDK"),
    row("ReservedCodeCacheSize", Since::Always, CURRENT, "every JDK"),
    row("ParallelGCThreads", Since::Always, CURRENT, "every JDK"),
    row("ConcGCThreads", Since::Always, CURRENT, "every JDK"),
    row("CICompilerCount", Since::Always, CURRENT, "every JDK"),
    row(
        "MaxMetaspaceSize",
        Since::Feature(8),
        CURRENT,
        "JEP 122: metaspace replaced PermGen in 8",
    ),
    row(
        "ActiveProcessorCount",
        Since::ContainerSupport,
        CURRENT,
        "JDK-8146115",
    ),
    row(
        "UseContainerSupport",
        Since::ContainerSupport,
        CURRENT,
        "JDK-8146115",
    ),
    row(
        "MaxRAMPercentage",
        Since::ContainerSupport,
        CURRENT,
        "JDK-8186248",
    ),
    row(
        "MinRAMPercentage",
        Since::ContainerSupport,
        CURRENT,
        "JDK-8186248",
    ),
    row(
        "InitialRAMPercentage",
        Since::ContainerSupport,
        CURRENT,
        "JDK-8186248",
    ),
    row(
        "MaxRAMFraction",
        Since::Always,
        [Some(10), None, Some(22)],
        "JDK-8186248 (deprecated in 10; measured: 17.0.15 and 21.0.8 warn, 25.0.2 refuses it, \
         so 22 is the first release that may)",
    ),
    row(
        "UseCGroupMemoryLimitForHeap",
        Since::Jdk8Update(131),
        [Some(10), None, Some(11)],
        "JDK-8170888, JDK-8175898 (8u131); JDK-8194086 (removed in 11)",
    ),
    row(
        "PreferContainerQuotaForCPUCount",
        Since::Feature(11),
        [None, Some(20), Some(21)],
        "CSR JDK-8197867; JDK-8282684 (obsolete in 20, expired in 21)",
    ),
    row(
        "UseContainerCpuShares",
        Since::Feature(19),
        [None, Some(20), Some(21)],
        "JDK-8281181 (also in 17.0.5 and 11.0.17, not modelled; measured: 17.0.15 starts \
         silently), JDK-8282684 (obsolete in 20, expired in 21; measured: 21.0.8 refuses it)",
    ),
];

/// How a JDK takes a flag at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Silent,
    /// Starts, with this warning on stderr.
    Warns(String),
    /// Does not start.
    Refuses(String),
}

/// What `facts` does with `flag`, from the table. An unknown version is the oldest JDK; an
/// `-XX` flag not in the table is refused.
fn verdict(facts: &JdkFacts, flag: &str) -> Verdict {
    let (feature, update) = facts
        .version
        .as_ref()
        .map_or((7, 0), |v| (v.feature, v.update));
    let Some(xx) = flag.strip_prefix("-XX:") else {
        let known = ["-Xmx", "-Xms", "-Xss", "-D"]
            .iter()
            .any(|prefix| flag.starts_with(prefix));
        return if known {
            Verdict::Silent
        } else {
            Verdict::Refuses(format!("Unrecognized option: {flag}"))
        };
    };
    let name = xx
        .trim_start_matches(['+', '-'])
        .split('=')
        .next()
        .unwrap_or(xx);
    let unrecognized = || Verdict::Refuses(format!("Unrecognized VM option '{xx}'"));
    let Some(row) = FLAGS.iter().find(|row| row.name == name) else {
        return unrecognized();
    };
    let present = match row.since {
        Since::Always => true,
        Since::Feature(first) => feature >= first,
        Since::ContainerSupport => {
            feature >= 10 || (feature == 8 && (update >= 212 || (update >= 191 && facts.oracle)))
        }
        Since::Jdk8Update(first) => feature >= 9 || (feature == 8 && update >= first),
    };
    let reached = |release: Option<u32>| release.is_some_and(|r| feature >= r);
    if !present || reached(row.expired) {
        unrecognized()
    } else if let (true, Some(release)) = (reached(row.obsolete), row.obsolete) {
        Verdict::Warns(format!(
            "Ignoring option {name}; support was removed in {release}.0 ({})",
            row.source
        ))
    } else if let (true, Some(release)) = (reached(row.deprecated), row.deprecated) {
        Verdict::Warns(format!(
            "Option {name} was deprecated in version {release}.0 ({})",
            row.source
        ))
    } else {
        Verdict::Silent
    }
}

/// A JDK starts without a word about `flag`.
fn accepted(facts: &JdkFacts, flag: &str) -> bool {
    verdict(facts, flag) == Verdict::Silent
}

#[test]
fn the_flag_table_models_deprecation_obsolescence_and_expiry() {
    let cases = [
        ("25", "-XX:MaxRAM=1g", "silent"),
        ("26", "-XX:MaxRAM=1g", "warns"),
        ("27", "-XX:MaxRAM=1g", "warns"),
        ("28", "-XX:MaxRAM=1g", "refuses"),
        ("1.8.0_121", "-XX:+UseCGroupMemoryLimitForHeap", "refuses"),
        ("1.8.0_131", "-XX:+UseCGroupMemoryLimitForHeap", "silent"),
        ("10", "-XX:+UseCGroupMemoryLimitForHeap", "warns"),
        ("11", "-XX:+UseCGroupMemoryLimitForHeap", "refuses"),
        ("20", "-XX:-UseContainerCpuShares", "warns"),
        ("21", "-XX:-UseContainerCpuShares", "refuses"),
        ("21", "-XX:MaxRAMFraction=4", "warns"),
        ("25", "-XX:MaxRAMFraction=4", "refuses"),
        ("21", "-XX:-PreferContainerQuotaForCPUCount", "refuses"),
        ("1.8.0_181", "-XX:ActiveProcessorCount=2", "refuses"),
        ("1.8.0_212", "-XX:ActiveProcessorCount=2", "silent"),
        ("1.7.0_80", "-XX:MaxMetaspaceSize=64m", "refuses"),
        ("28", "-XX:InitialHeapSize=8m", "silent"),
        ("21", "-XX:NoSuchFlag=1", "refuses"),
        ("21", "-Xmx1g", "silent"),
    ];
    for (version, flag, expected) in cases {
        let got = match verdict(&jdk(version, false), flag) {
            Verdict::Silent => "silent",
            Verdict::Warns(_) => "warns",
            Verdict::Refuses(_) => "refuses",
        };
        assert_eq!(got, expected, "{version} {flag}");
    }
    for row in FLAGS {
        assert!(!row.source.is_empty(), "{}: no source", row.name);
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
            controllers: KernelControllers::default(),
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
        {
            let mut layout = layout(
                "v2 1g 2cpu, kernel 6.12+ without v1 memory",
                2,
                Some((GIB, true)),
                Some((2.0, true)),
                Some(100),
            );
            kernel_without_v1_memory(&mut layout);
            layout
        },
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
        assert_eq!(
            verdict(facts, flag),
            Verdict::Silent,
            "{context}: {flag} makes this JDK warn or refuse to start: {decision:#?}"
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
                // From JDK 26 a percentage is applied to the limit with -Xmx, as -XX:MaxRAM did
                // (the_users_percentage_applies_to_the_limit_without_max_ram checks the value).
                let percentage_applied = facts.max_ram_deprecated() && decision.sight.blind;
                for theirs in [Knob::RamShare, Knob::MaxRam]
                    .into_iter()
                    .filter(|k| !(percentage_applied && *k == Knob::RamShare))
                {
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

/// A JDK that cannot see `layout`'s limits gets `-XX:MaxRAM=max_ram` and
/// `-XX:ActiveProcessorCount=cpus`; one that can sees them, and gets neither.
fn assert_told_what_it_cannot_see(
    version: &str,
    layout: &Layout,
    max_ram: &str,
    cpus: u32,
    cannot_see: bool,
) {
    let flags = flags_for(version, false, layout);
    for flag in [
        format!("-XX:MaxRAM={max_ram}"),
        format!("-XX:ActiveProcessorCount={cpus}"),
    ] {
        assert_eq!(has(&flags, &flag), cannot_see, "{version}: {flags:?}");
    }
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
        assert_told_what_it_cannot_see(version, &v2, "2048m", 1, blind);
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
        assert_told_what_it_cannot_see(version, &parent, "4096m", 2, hidden);
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

/// A v2 host on a kernel from 6.12 built without cgroup v1 memory and cpuset: `/proc/cgroups`
/// has no `memory` and no `cpuset` row, `/sys/fs/cgroup/cgroup.controllers` lists both.
fn kernel_without_v1_memory(layout: &mut Layout) {
    let rows = ["cpu", "cpuacct", "io", "pids"]
        .into_iter()
        .map(|name| jwrap::cgroup::parse::ControllerRow {
            name: name.to_string(),
            hierarchy: 0,
            enabled: true,
        })
        .collect();
    layout.cgroup.controllers = KernelControllers {
        proc_cgroups: Some(rows),
        sys_fs_cgroup_is_v2: true,
        v2_root: Some(
            ["cpuset", "cpu", "io", "memory", "pids"]
                .map(String::from)
                .to_vec(),
        ),
    };
}

#[test]
fn jdks_that_read_proc_cgroups_are_blind_on_kernels_without_v1_memory() {
    let mut v2 = layout(
        "v2 1g 2cpu, kernel 6.12+ without v1 memory",
        2,
        Some((GIB, true)),
        Some((2.0, true)),
        Some(100),
    );
    kernel_without_v1_memory(&mut v2);
    for (version, blind) in [
        ("1.8.0_482", true),
        ("1.8.0_502", false),
        ("11.0.31", true),
        ("11.0.32", false),
        ("17.0.18", true),
        ("21.0.11", true),
        ("21.0.12", false),
        ("24", true),
        ("25", false),
        ("26", false),
    ] {
        let decision = decide(
            &v2.limits,
            &jdk(version, false),
            &v2.cgroup,
            &Policy::default(),
            &UserSettings::default(),
        );
        assert_eq!(
            decision.sight.blind, blind,
            "{version}: {}",
            decision.sight.why
        );
        assert_eq!(
            has(&decision.flags, "-XX:MaxRAM=1024m"),
            blind,
            "{version}: {:?}",
            decision.flags
        );
        assert_eq!(
            has(&decision.flags, "-XX:ActiveProcessorCount=2"),
            blind,
            "{version}: {:?}",
            decision.flags
        );
        if blind {
            assert!(
                decision
                    .sight
                    .why
                    .contains("/proc/cgroups has no enabled memory"),
                "{version}: {}",
                decision.sight.why
            );
        }
    }
    // A cgroup.controllers without memory blinds even the JDKs that read it.
    v2.cgroup.controllers.v2_root = Some(vec!["cpu".to_string(), "pids".to_string()]);
    let decision = decide(
        &v2.limits,
        &jdk("25", false),
        &v2.cgroup,
        &Policy::default(),
        &UserSettings::default(),
    );
    assert!(
        decision.sight.blind && decision.sight.why.contains("lacks memory"),
        "{}",
        decision.sight.why
    );
}

#[test]
fn a_missing_cpuset_row_blinds_jdks_before_jdk_8347129() {
    let mut v1 = layout("v1 1g", 1, Some((GIB, true)), None, Some(1024));
    let rows = ["memory", "cpu", "cpuacct", "pids"]
        .into_iter()
        .map(|name| jwrap::cgroup::parse::ControllerRow {
            name: name.to_string(),
            hierarchy: 3,
            enabled: true,
        })
        .collect();
    v1.cgroup.controllers.proc_cgroups = Some(rows);
    for (version, blind) in [("21.0.12", true), ("24", true), ("25", false)] {
        let decision = decide(
            &v1.limits,
            &jdk(version, false),
            &v1.cgroup,
            &Policy::default(),
            &UserSettings::default(),
        );
        assert_eq!(
            decision.sight.blind, blind,
            "{version}: {}",
            decision.sight.why
        );
        if blind {
            assert!(
                decision.sight.why.contains("cpuset"),
                "{}",
                decision.sight.why
            );
        }
    }
}

#[test]
fn blind_jdks_from_26_get_what_max_ram_implied_without_it() {
    let layout = layout("v2 1g", 2, Some((GIB, true)), None, Some(100));
    for version in ["26", "27", "28"] {
        let facts = jdk(version, false);
        let user = user_settings(&facts, Channel::ToolOptions, "-XX:-UseContainerSupport");
        let decision = decide(
            &layout.limits,
            &facts,
            &layout.cgroup,
            &Policy::default(),
            &user,
        );
        assert!(decision.sight.blind);
        let flags = &decision.flags;
        assert!(!has(flags, "-XX:MaxRAM"), "{version}: {flags:?}");
        assert!(has(flags, "-Xmx"), "{version}: {flags:?}");
        assert!(
            has(flags, "-XX:MaxDirectMemorySize="),
            "{version}: {flags:?}"
        );
        // 0.2 % of 1 GiB is 2 MiB: the JVM's own 8 MiB floor applies.
        assert!(
            flags.contains(&"-XX:InitialHeapSize=8m".to_string()),
            "{version}: {flags:?}"
        );
    }
    // Before 26 MaxRAM itself is the way.
    let facts = jdk("25", false);
    let user = user_settings(&facts, Channel::ToolOptions, "-XX:-UseContainerSupport");
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &user,
    );
    assert!(
        has(&decision.flags, "-XX:MaxRAM=1024m") && !has(&decision.flags, "-XX:InitialHeapSize")
    );
    // A 16 GiB limit: 0.2 % is 32.8 MiB, rounded up.
    let big = self::layout("v2 16g", 2, Some((16 * GIB, true)), None, Some(100));
    let facts = jdk("26", false);
    let user = user_settings(&facts, Channel::ToolOptions, "-XX:-UseContainerSupport");
    let decision = decide(&big.limits, &facts, &big.cgroup, &Policy::default(), &user);
    assert!(
        decision
            .flags
            .contains(&"-XX:InitialHeapSize=33m".to_string()),
        "{:?}",
        decision.flags
    );
}

#[test]
fn the_users_percentage_applies_to_the_limit_without_max_ram() {
    let layout = layout("v2 1g", 2, Some((GIB, true)), None, Some(100));
    for (options, heap) in [
        // 60 % of 1024 MiB = 614.4 MiB, rounded up as the JVM rounds up.
        (
            "-XX:-UseContainerSupport -XX:MaxRAMPercentage=60.0",
            "-Xmx615m",
        ),
        // No percentage: the JVM's 25 %, at least its 124.8 MiB default.
        (
            "-XX:-UseContainerSupport -XX:InitialRAMPercentage=10.0",
            "-Xmx256m",
        ),
        // MinRAMPercentage of it is below the 124.8 MiB default: HotSpot's "small physical
        // memory" rule takes that share (10 % of 1024 MiB = 102.4 MiB, rounded up), not MaxRAMPercentage.
        (
            "-XX:-UseContainerSupport -XX:MaxRAMPercentage=80.0 -XX:MinRAMPercentage=10.0",
            "-Xmx103m",
        ),
    ] {
        let facts = jdk("26", false);
        let user = user_settings(&facts, Channel::ToolOptions, options);
        let decision = decide(
            &layout.limits,
            &facts,
            &layout.cgroup,
            &Policy::default(),
            &user,
        );
        assert!(
            decision.flags.contains(&heap.to_string()),
            "{options}: {:?}",
            decision.flags
        );
        assert!(!has(&decision.flags, "-XX:MaxRAM"), "{:?}", decision.flags);
    }
    // The user's InitialRAMPercentage sizes the initial heap from the limit: 10 % of 1 GiB.
    let facts = jdk("26", false);
    let user = user_settings(
        &facts,
        Channel::ToolOptions,
        "-XX:-UseContainerSupport -XX:InitialRAMPercentage=10.0",
    );
    let decision = decide(
        &layout.limits,
        &facts,
        &layout.cgroup,
        &Policy::default(),
        &user,
    );
    assert!(
        decision
            .flags
            .contains(&"-XX:InitialHeapSize=103m".to_string()),
        "{:?}",
        decision.flags
    );
}

#[test]
fn an_unknown_cpu_count_gets_no_cpu_flag() {
    let mut unknown = layout("v2 1g, CPUs unknown", 2, Some((GIB, true)), None, Some(20));
    unknown.cgroup.host_cpus = None;
    unknown.limits.effective_cpus = effective_cpus(None, None, None);
    for &(name, version, oracle) in JDKS {
        for options in ["", "-XX:-UseContainerSupport"] {
            let facts = jdk(version, oracle);
            let user = user_settings(&facts, Channel::ToolOptions, options);
            let decision = decide(
                &unknown.limits,
                &facts,
                &unknown.cgroup,
                &Policy::default(),
                &user,
            );
            let cpu_flags: Vec<&String> = decision
                .flags
                .iter()
                .filter(|f| matches!(classify(f), Some(Knob::ProcessorCount | Knob::ThreadCounts)))
                .collect();
            assert!(cpu_flags.is_empty(), "{name} {options:?}: {cpu_flags:?}");
            assert!(
                decision
                    .reasons
                    .iter()
                    .any(|r| r.contains("CPUs is unknown")),
                "{name}: {:?}",
                decision.reasons
            );
        }
    }
}
