//! The evidence behind an OOM kill's explanation, proven with real JVMs that fill one region of
//! their memory each (`tests/java-programs/OomCause.java`) until the kernel kills them in a real
//! cgroup v1 memory group of 256 MiB. jwrap samples the group while the JVM runs; its explanation
//! must name the region that filled the container in one line,
//! `jwrap: What filled it: <region> — <detail>`.
//!
//! Each mode grows about 32 MiB a second, so the kill comes 5–13 s after the start (measured
//! five times per mode with plain `java` on this machine: exit 137 and a kernel kill every time).
//! The JVM's own caps are left far above the limit, so that none of them ends the run in a Java
//! OutOfMemoryError first: an -Xmx of 1 GiB for the heap, -XX:MaxMetaspaceSize=1g (jwrap bounds
//! metaspace by default), -XX:MaxDirectMemorySize=1g for direct buffers.
//!
//! Needs root, writable cgroup v1 hierarchies, `java` and `javac`; otherwise each test skips
//! itself with the reason.

use crate::jvm_real::java_programs;
use crate::realcg::{Limits, Namespaces, RealCgroup};
use crate::skip;
use crate::util::{jwrap, jwrap_path};
use jwrap::units::MIB;
use serde_json::Value;
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What the first line of the explanation says.
const KILLED: &str = "killed by the kernel's out-of-memory killer";
/// The line that names the cause.
const WHAT_FILLED_IT: &str = "jwrap: What filled it: ";
/// The container's memory limit in every test.
const LIMIT_MIB: u64 = 256;
/// The slowest mode took 13 s alone; one still running after this is stuck.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
/// The least page cache the `pagecache` explanation must report: half of what the group held
/// while the heap grew step by step.
const PAGE_CACHE_SEEN_MIB: u64 = 64;
/// Where `pagecache` writes its files: a real disk (ext4 here), not tmpfs, whose pages would be
/// shared memory.
const DISK_DIR: &str = "/var/tmp";

/// How a command ended, and what jwrap wrote.
struct Finished {
    status: ExitStatus,
    stderr: String,
}

impl Finished {
    fn code(&self) -> Option<i32> {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|signal| 128 + signal))
    }

    /// jwrap's lines from the first line of the explanation on.
    fn explanation(&self) -> Vec<&str> {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("jwrap: "))
            .collect();
        match lines.iter().position(|line| line.contains(KILLED)) {
            Some(first) => lines[first..].to_vec(),
            None => Vec::new(),
        }
    }

    /// The region named by the one `What filled it:` line.
    fn region(&self) -> &str {
        let block = self.explanation();
        assert!(
            !block.is_empty(),
            "no explanation of the kill:\n{}",
            self.stderr
        );
        let causes: Vec<&str> = block
            .iter()
            .filter_map(|line| line.strip_prefix(WHAT_FILLED_IT))
            .collect();
        assert_eq!(
            causes.len(),
            1,
            "not exactly one `What filled it:` line:\n{}",
            self.stderr
        );
        let (region, detail) = causes[0]
            .split_once(" — ")
            .unwrap_or_else(|| panic!("no ` — ` after the region: {}", causes[0]));
        assert!(!detail.trim().is_empty(), "no detail: {}", causes[0]);
        region
    }
}

/// Run `command` to its end, its stderr in a file (a JVM may write a lot).
fn finish(mut command: Command) -> Finished {
    let mut stderr = tempfile::tempfile().unwrap();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.try_clone().unwrap());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {RUN_TIMEOUT:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    stderr.rewind().unwrap();
    stderr.read_to_string(&mut text).unwrap();
    Finished {
        status,
        stderr: text,
    }
}

/// The kernel's kills in the group (v1 `memory.oom_control`).
fn kernel_kills(group: &RealCgroup) -> u64 {
    let text = fs::read_to_string(group.memory_dir().join("memory.oom_control")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|count| count.trim().parse().ok())
        .expect("an oom_kill line in memory.oom_control")
}

/// A group of `LIMIT_MIB` and the compiled programs, or why not.
fn setup(name: &str) -> Result<(RealCgroup, PathBuf), String> {
    let programs = java_programs()?;
    let group = RealCgroup::create(
        name,
        Limits {
            memory_bytes: Some(LIMIT_MIB * MIB),
            ..Limits::default()
        },
    )?;
    Ok((group, programs))
}

/// `jwrap JWRAP_ARGS -- java JAVA_FLAGS -cp PROGRAMS OomCause MODE_ARGS` inside `group`, with
/// the clean environment of `util::jwrap()`.
fn oom_cause(
    group: &RealCgroup,
    programs: &Path,
    jwrap_args: &[&str],
    java_flags: &[&str],
    mode_args: &[&str],
) -> Command {
    let mut args: Vec<&str> = jwrap_args.to_vec();
    args.extend(["--", "java"]);
    args.extend(java_flags);
    args.extend(["-cp", programs.to_str().unwrap(), "OomCause"]);
    args.extend(mode_args);
    let mut command = group.command(Namespaces::Host, jwrap_path(), &args);
    for (name, value) in jwrap().get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

/// Run one mode under jwrap; assert that the kernel killed it; return how it ended.
fn killed_by_the_kernel(
    group: &RealCgroup,
    programs: &Path,
    java_flags: &[&str],
    mode_args: &[&str],
) -> Finished {
    let before = kernel_kills(group);
    let run = finish(oom_cause(group, programs, &[], java_flags, mode_args));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    assert!(
        kernel_kills(group) > before,
        "the kernel's OOM killer did not act:\n{}",
        run.stderr
    );
    let block = run.explanation();
    assert!(
        block.first().is_some_and(|line| line.contains(KILLED)),
        "no explanation of the kill:\n{}",
        run.stderr
    );
    run
}

/// The filesystem type of the mount that holds `path` (the longest mount point above it).
fn filesystem_of(path: &str) -> Option<String> {
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some((*fields.get(1)?, *fields.get(2)?))
        })
        .filter(|(point, _)| Path::new(path).starts_with(point))
        .max_by_key(|(point, _)| point.len())
        .map(|(_, kind)| kind.to_string())
}

#[test]
fn evidence_a_growing_heap_is_named() {
    let (group, programs) = match setup("evidence-heap") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    let run = killed_by_the_kernel(&group, &programs, &["-Xmx1g"], &["heap"]);
    assert_eq!(run.region(), "heap", "{}", run.stderr);
}

#[test]
fn evidence_thousands_of_threads_are_named() {
    let (group, programs) = match setup("evidence-threads") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    let run = killed_by_the_kernel(&group, &programs, &["-Xmx64m"], &["threads"]);
    assert_eq!(run.region(), "threads", "{}", run.stderr);
}

#[test]
fn evidence_generated_classes_are_named_metaspace() {
    let (group, programs) = match setup("evidence-metaspace") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    // The user's own bound, far above the limit: jwrap's default bound would end the run in a
    // Java OutOfMemoryError instead of a kill.
    let flags = ["-Xmx64m", "-XX:MaxMetaspaceSize=1g"];
    let run = killed_by_the_kernel(&group, &programs, &flags, &["metaspace"]);
    assert_eq!(run.region(), "metaspace", "{}", run.stderr);
}

#[test]
fn evidence_direct_buffers_within_their_cap_are_named() {
    let (group, programs) = match setup("evidence-direct") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    let flags = ["-Xmx64m", "-XX:MaxDirectMemorySize=1g"];
    let run = killed_by_the_kernel(&group, &programs, &flags, &["direct"]);
    assert_eq!(run.region(), "direct buffers", "{}", run.stderr);
}

#[test]
fn evidence_native_memory_beyond_the_direct_cap_is_named() {
    let (group, programs) = match setup("evidence-native") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    // The direct cap is jwrap's (16 MiB at 256 MiB) or the default, the max heap, 64 MiB: the
    // program fills far more than either outside the heap.
    let run = killed_by_the_kernel(&group, &programs, &["-Xmx64m"], &["native"]);
    assert_eq!(run.region(), "native memory", "{}", run.stderr);
}

#[test]
fn evidence_a_large_page_cache_is_not_blamed_for_a_growing_heap() {
    match filesystem_of(DISK_DIR) {
        Some(kind) if kind != "tmpfs" => {}
        Some(kind) => skip!("{DISK_DIR} is {kind}, not a disk: its pages would not be cache"),
        None => skip!("cannot tell which filesystem holds {DISK_DIR}"),
    }
    let (group, programs) = match setup("evidence-pagecache") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    let files = tempfile::Builder::new()
        .prefix("jwrap-evidence.")
        .tempdir_in(DISK_DIR)
        .unwrap();
    let dir = files.path().to_str().unwrap();
    let run = killed_by_the_kernel(&group, &programs, &["-Xmx1g"], &["pagecache", dir]);
    assert_eq!(run.region(), "heap", "{}", run.stderr);
    let block = run.explanation();
    let cache_lines: Vec<&&str> = block
        .iter()
        .filter(|line| line.starts_with("jwrap: Page cache: "))
        .collect();
    assert_eq!(cache_lines.len(), 1, "{}", run.stderr);
    let mib = cache_lines[0]
        .strip_prefix("jwrap: Page cache: ")
        .and_then(|rest| rest.strip_suffix(" MiB (reclaimable; not the cause)."))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "not `Page cache: N MiB (reclaimable; not the cause).`: {}",
                cache_lines[0]
            )
        });
    // Before the heap's last rush the group held about 134 MiB of cache (measured five times);
    // the kernel reclaims it in the last fraction of a second.
    assert!(
        (PAGE_CACHE_SEEN_MIB..=LIMIT_MIB).contains(&mib),
        "{}",
        cache_lines[0]
    );
}

#[test]
fn evidence_another_process_that_grows_is_named_though_the_jvm_is_killed() {
    let (group, programs) = match setup("evidence-other") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    // 150 MiB of heap touched at the start: the JVM stays the largest process, so the kernel
    // kills it, while the filler the program starts is what grew.
    let flags = ["-Xms150m", "-Xmx150m", "-XX:+AlwaysPreTouch"];
    let run = killed_by_the_kernel(&group, &programs, &flags, &["other"]);
    assert!(
        run.explanation()[0].starts_with(&format!("jwrap: java was {KILLED}")),
        "the kernel did not kill the JVM:\n{}",
        run.stderr
    );
    assert_eq!(run.region(), "another process", "{}", run.stderr);
}

#[test]
fn evidence_memory_report_holds_the_samples_before_the_kill() {
    let (group, programs) = match setup("evidence-report") {
        Ok(setup) => setup,
        Err(reason) => skip!("{reason}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("memory.jsonl");
    let report_arg = report.to_str().unwrap();
    let before = kernel_kills(&group);
    let run = finish(oom_cause(
        &group,
        &programs,
        &["--memory-report", report_arg],
        &["-Xmx1g"],
        &["heap"],
    ));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    assert!(kernel_kills(&group) > before, "{}", run.stderr);
    let text = fs::read_to_string(&report)
        .unwrap_or_else(|err| panic!("no report at {report_arg}: {err}\n{}", run.stderr));
    let samples: Vec<Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect();
    assert!(samples.len() >= 2, "fewer than 2 samples:\n{text}");
    for sample in &samples {
        assert!(sample.is_object(), "not an object: {sample}");
        assert!(
            sample["usage_bytes"].is_number(),
            "no usage_bytes: {sample}"
        );
        assert!(sample["t_ms"].is_number(), "no t_ms: {sample}");
    }
    let last = samples[samples.len() - 1]["usage_bytes"].as_f64().unwrap();
    let limit = (LIMIT_MIB * MIB) as f64;
    assert!(
        (last - limit).abs() <= limit * 0.2,
        "the last sample, {last} bytes, is not within 20 % of the limit, {limit}:\n{text}"
    );
}
