//! The JVM decision over any limits, cgroup facts, JDK (its `release` file's version text) and
//! user options. It must not panic, and it must keep its promise: no flag for a setting the user
//! already made, every flag an option the JVM reads (`-X...`, `-XX:...`, `-D...`).
#![no_main]

use arbitrary::Arbitrary;
use jwrap::java::decide::{CgroupFacts, Placed, Policy, decide};
use jwrap::java::userflags::{FileRead, Sources, classify, scan};
use jwrap::java::version::{JdkFacts, parse_release, parse_version};
use jwrap::limits::{Limit, Limits, Source};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[derive(Arbitrary, Debug)]
enum Known<T> {
    Set(T),
    Unlimited,
    Unknown,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    memory: Known<u64>,
    /// CPU quota and period in microseconds, as the cgroup files give them.
    cpu: Known<(u64, u64)>,
    memory_own_cgroup: bool,
    cpu_own_cgroup: bool,
    effective_cpus: u32,
    cgroup_version: Option<u8>,
    cpu_weight: Option<u64>,
    host_cpus: Option<u32>,
    host_memory: Option<u64>,
    cpuset_cpus: Option<u32>,
    /// `--heap-percent`, in tenths of a percent (the option takes above 0 to 1000).
    heap_permille: Option<u16>,
    release_file: &'a str,
    oracle: bool,
    openj9: bool,
    java_tool_options: Option<&'a str>,
    command_line: Option<Vec<&'a str>>,
}

fn limit<T>(known: Known<T>, path: &str) -> Limit<T> {
    match known {
        Known::Set(value) => Limit::Set {
            value,
            source: Source::file(path, "fuzzed"),
        },
        Known::Unlimited => Limit::Unlimited { source: None },
        Known::Unknown => Limit::Unknown {
            reason: "fuzzed".to_string(),
        },
    }
}

fuzz_target!(|input: Input<'_>| {
    let cpu = match input.cpu {
        Known::Set((quota, period)) if quota > 0 && period > 0 => {
            Known::Set(quota as f64 / period as f64)
        }
        Known::Set(_) | Known::Unknown => Known::Unknown,
        Known::Unlimited => Known::Unlimited,
    };
    let limits = Limits {
        memory: limit(input.memory, "/sys/fs/cgroup/memory.max"),
        cpu: limit(cpu, "/sys/fs/cgroup/cpu.max"),
        effective_cpus: input.effective_cpus.max(1),
    };
    let cgroup = CgroupFacts {
        version: input.cgroup_version,
        memory: limits.memory.value().map(|value| Placed {
            value,
            own_cgroup: input.memory_own_cgroup,
        }),
        cpu_quota: limits.cpu.value().map(|value| Placed {
            value,
            own_cgroup: input.cpu_own_cgroup,
        }),
        cpu_weight: input.cpu_weight,
        host_cpus: input.host_cpus,
        host_memory: input.host_memory,
        cpuset_cpus: input.cpuset_cpus,
        ..CgroupFacts::default()
    };
    let release = parse_release(input.release_file);
    let jdk = JdkFacts {
        version: release.java_version.as_deref().and_then(parse_version),
        oracle: input.oracle,
        openj9: input.openj9,
    };
    let policy = Policy {
        heap_percent: input
            .heap_permille
            .filter(|p| (1..=10_000).contains(p))
            .map(|p| f64::from(p) / 10.0),
    };
    let command_line: Option<Vec<std::ffi::OsString>> = input
        .command_line
        .map(|words| words.into_iter().map(Into::into).collect());
    let sources = Sources {
        java_tool_options: input.java_tool_options,
        command_line: command_line.as_deref(),
        argfiles: true,
        ..Sources::default()
    };
    let no_files = |_: &Path| FileRead::Failed("missing".to_string());
    let user = scan(&sources, &no_files);

    let decision = decide(&limits, &jdk, &cgroup, &policy, &user);
    for flag in &decision.flags {
        assert!(
            ["-X", "-D"].iter().any(|prefix| flag.starts_with(prefix)),
            "not a JVM option: {flag:?}"
        );
        if let Some(knob) = classify(flag) {
            assert!(
                user.get(knob).is_none(),
                "{flag} overrides the user's {:?}",
                user.get(knob)
            );
        }
    }
});
