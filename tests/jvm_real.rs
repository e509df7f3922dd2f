//! jwrap's JVM sizing proven with a real JVM in a real cgroup v1: the kernel enforces the memory
//! limit, and `-XX:-UseContainerSupport` makes this machine's JDK 17 size itself from the host's
//! memory, as a JDK 8 before 8u191 does. Needs root, writable cgroup v1 hierarchies, `java` and
//! `javac` on PATH; otherwise each test skips itself with the reason.
//!
//! The Java programs in `tests/java-programs/` are compiled once per test run, into a directory
//! below Cargo's target dir named after a hash of their sources.

use crate::realcg::{Limits, Namespaces, RealCgroup};
use crate::skip;
use crate::util::jwrap;
use serde_json::Value;
use std::ffi::OsStr;
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{ErrorKind, Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jwrap::units::MIB;

/// `HotSpot` rounds the heap size up to its heap alignment: card size × page size, 512 B × 4 KiB.
const HEAP_ALIGNMENT: u64 = 2 * MIB;

/// `FillHeap`'s exit status when it caught its `OutOfMemoryError`.
const FILL_HEAP_CAUGHT: i32 = 3;

/// Stress's arguments: 2 seconds of load, 150 platform threads, 3000 hidden classes, 8 MiB of
/// direct buffers (see tests/java-programs/Stress.java for what it models).
const STRESS_ARGS: [&str; 4] = ["2", "150", "3000", "8"];

/// No run here takes more than seconds; a JVM still running after this is stuck.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Turns a JVM container-blind, standing in for a JDK 8 before 8u191.
const BLIND: &str = "-XX:-UseContainerSupport";

/// What a finished command left.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// The exit code a shell would show: 128 + N for a signal.
    fn code(&self) -> Option<i32> {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|signal| 128 + signal))
    }

    /// The end of both streams, for assertion messages.
    fn tail(&self) -> String {
        let last = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(12)..].join("\n")
        };
        format!(
            "exit {:?}\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            self.code(),
            last(&self.stdout),
            last(&self.stderr)
        )
    }
}

/// Run `command` to its end (killed after `RUN_TIMEOUT`), its output captured in files: a JVM's
/// `-XX:+PrintFlagsFinal` fills a pipe long before it exits.
fn finish(mut command: Command) -> Finished {
    let mut stdout = tempfile::tempfile().expect("a temporary file for stdout");
    let mut stderr = tempfile::tempfile().expect("a temporary file for stderr");
    command
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("stdout file"))
        .stderr(stderr.try_clone().expect("stderr file"));
    let mut child = command.spawn().expect("spawn the command");
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {RUN_TIMEOUT:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |file: &mut File| {
        let mut text = String::new();
        file.rewind().expect("rewind output file");
        file.read_to_string(&mut text).expect("read output file");
        text
    };
    Finished {
        status,
        stdout: read(&mut stdout),
        stderr: read(&mut stderr),
    }
}

/// `jwrap ARGS` inside `group`, with the clean environment of `util::jwrap()`.
fn jwrap_in(group: &RealCgroup, ns: Namespaces, args: &[&str]) -> Command {
    let template = jwrap();
    let mut command = group.command(ns, template.get_program(), args);
    for (name, value) in template.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

/// The directory holding the compiled Java programs, or why there is none (no JDK).
pub(crate) fn java_programs() -> Result<PathBuf, String> {
    static COMPILED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    COMPILED.get_or_init(compile_java_programs).clone()
}

fn compile_java_programs() -> Result<PathBuf, String> {
    for tool in ["java", "javac"] {
        match Command::new(tool).arg("-version").output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => return Err(format!("`{tool} -version` failed: {:?}", output.status)),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(format!("{tool} is not on PATH"));
            }
            Err(err) => return Err(format!("cannot run {tool}: {err}")),
        }
    }
    let source_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java-programs");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&source_dir)
        .expect("tests/java-programs")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension() == Some(OsStr::new("java")))
        .collect();
    sources.sort();
    let mut hasher = DefaultHasher::new();
    for source in &sources {
        source.file_name().hash(&mut hasher);
        std::fs::read(source)
            .expect("a Java source")
            .hash(&mut hasher);
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("java-programs");
    let compiled = cache.join(format!("{:016x}", hasher.finish()));
    if compiled.is_dir() {
        return Ok(compiled);
    }
    // Compiled beside the final name, then renamed: a directory with that name is complete.
    let staging = cache.join(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("the Java programs' staging directory");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&staging)
        .args(&sources)
        .output()
        .expect("run javac");
    assert!(
        javac.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    if std::fs::rename(&staging, &compiled).is_err() {
        // Another test process got there first; its copy is as good.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(compiled)
}

/// A cgroup with a memory limit of `mib` MiB, and the compiled programs; or why not.
fn setup(name: &str, mib: u64) -> Result<(RealCgroup, PathBuf), String> {
    let programs = java_programs()?;
    let limits = Limits {
        memory_bytes: Some(mib * MIB),
        ..Limits::default()
    };
    Ok((RealCgroup::create(name, limits)?, programs))
}

/// The kernel's OOM kills in the group so far (`oom_kill` in `memory.oom_control`).
fn oom_kills(group: &RealCgroup) -> u64 {
    let control = std::fs::read_to_string(group.memory_dir().join("memory.oom_control"))
        .expect("memory.oom_control");
    control
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|count| count.trim().parse().ok())
        .expect("an oom_kill line in memory.oom_control")
}

/// A value from `-XX:+PrintFlagsFinal` output: `   size_t MaxHeapSize   = 536870912   {...}`.
fn final_flag(output: &str, name: &str) -> u64 {
    output
        .lines()
        .find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.get(1) == Some(&name) && words.get(2) == Some(&"="))
                .then(|| words.get(3).and_then(|value| value.parse().ok()))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no {name} in the -XX:+PrintFlagsFinal output:\n{output}"))
}

/// The host's memory as the JVM sees it (sysconf pages × page size = `MemTotal`).
fn host_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal in /proc/meminfo");
    kib * 1024
}

/// The heap size a list of JVM flags sets: the last `-Xmx`/`-XX:MaxHeapSize`, else
/// `-XX:MaxRAM` × `-XX:MaxRAMPercentage`. `None` when the flags leave the heap to the JVM.
fn heap_of_flags(flags: &[String]) -> Option<u64> {
    let size = |text: &str| {
        jwrap::units::parse_size(text)
            .unwrap_or_else(|err| panic!("a JVM size in {flags:?}: {err}"))
    };
    let last = |prefix: &str| {
        flags
            .iter()
            .rev()
            .find_map(|flag| flag.strip_prefix(prefix))
    };
    if let Some(heap) = flags.iter().rev().find_map(|flag| {
        flag.strip_prefix("-Xmx")
            .or_else(|| flag.strip_prefix("-XX:MaxHeapSize="))
    }) {
        return Some(size(heap));
    }
    let ram = last("-XX:MaxRAM=")?;
    let percent: f64 = last("-XX:MaxRAMPercentage=")?.parse().ok()?;
    Some((size(ram) as f64 * percent / 100.0) as u64)
}

/// `jwrap info --json -- ARGS` inside `group`: the parsed report.
fn info_in(group: &RealCgroup, command: &[&str]) -> Value {
    let mut args = vec!["info", "--json", "--"];
    args.extend_from_slice(command);
    let info = finish(jwrap_in(group, Namespaces::Host, &args));
    assert_eq!(info.code(), Some(0), "jwrap info failed: {}", info.tail());
    serde_json::from_str(&info.stdout)
        .unwrap_or_else(|err| panic!("jwrap info --json is not JSON ({err}):\n{}", info.stdout))
}

fn jvm_flags(info: &Value) -> Vec<String> {
    info["jvm_flags"]
        .as_array()
        .unwrap_or_else(|| panic!("no jvm_flags array in {info}"))
        .iter()
        .map(|flag| flag.as_str().expect("a flag string").to_string())
        .collect()
}

/// In a real 512 MiB cgroup a container-blind JVM started by jwrap gets exactly the heap that
/// `jwrap info` decides there; started without jwrap, the same JVM takes a quarter of the host.
#[test]
fn a_blind_jvm_gets_the_heap_jwrap_decided() {
    let limit = 512 * MIB;
    let (group, _) = match setup("print-flags", limit / MIB) {
        Ok(ready) => ready,
        Err(reason) => skip!("{reason}"),
    };
    let java_args = [BLIND, "-XX:+PrintFlagsFinal", "-version"];
    let mut command = vec!["java"];
    command.extend_from_slice(&java_args);

    let info = info_in(&group, &command);
    assert_eq!(
        info["memory"]["limit_bytes"].as_u64(),
        Some(limit),
        "jwrap info did not see the cgroup's 512 MiB: {}",
        info["memory"]
    );
    let flags = jvm_flags(&info);
    let decided = heap_of_flags(&flags).unwrap_or_else(|| {
        panic!("jwrap decided no heap for a container-blind JVM in a 512 MiB cgroup: {flags:?}")
    });
    assert!(
        decided < limit,
        "jwrap's heap {decided} is not below the limit: {flags:?}"
    );

    let mut wrapped_args = vec!["--"];
    wrapped_args.extend_from_slice(&command);
    let wrapped = finish(jwrap_in(&group, Namespaces::Host, &wrapped_args));
    assert_eq!(wrapped.code(), Some(0), "{}", wrapped.tail());
    let max_heap = final_flag(&wrapped.stdout, "MaxHeapSize");
    assert!(
        (decided..decided + HEAP_ALIGNMENT).contains(&max_heap),
        "under jwrap MaxHeapSize is {max_heap}, jwrap decided {decided} ({flags:?})"
    );

    let bare = finish(group.command(Namespaces::Host, "java", &java_args));
    assert_eq!(bare.code(), Some(0), "{}", bare.tail());
    let blind_heap = final_flag(&bare.stdout, "MaxHeapSize");
    let quarter = host_memory() / 4;
    assert!(
        (quarter..quarter + HEAP_ALIGNMENT).contains(&blind_heap),
        "without jwrap MaxHeapSize is {blind_heap}, not a quarter of the host ({quarter})"
    );
    assert!(
        blind_heap > limit,
        "this host is too small to show a blind JVM"
    );
}

/// `FillHeap` in a real 256 MiB cgroup: a blind JVM without jwrap grows its heap past the limit
/// and the kernel kills it; under jwrap it hits its own heap limit first and catches the
/// `OutOfMemoryError`.
#[test]
fn b_fill_heap_is_oom_killed_without_jwrap_and_catches_oom_with_it() {
    let mib = 256;
    let (bare_group, programs) = match setup("fill-heap-bare", mib) {
        Ok(ready) => ready,
        Err(reason) => skip!("{reason}"),
    };
    let classpath = programs.to_string_lossy().into_owned();

    let bare = finish(bare_group.command(
        Namespaces::Host,
        "java",
        &[BLIND, "-cp", &classpath, "FillHeap"],
    ));
    assert_eq!(bare.code(), Some(137), "without jwrap: {}", bare.tail());
    assert_eq!(
        oom_kills(&bare_group),
        1,
        "the kernel's OOM killer did not act"
    );

    let (wrapped_group, _) = setup("fill-heap-jwrap", mib).expect("a second cgroup");
    let wrapped = finish(jwrap_in(
        &wrapped_group,
        Namespaces::Host,
        &["-v", "--", "java", BLIND, "-cp", &classpath, "FillHeap"],
    ));
    assert_eq!(
        wrapped.code(),
        Some(FILL_HEAP_CAUGHT),
        "under jwrap: {}",
        wrapped.tail()
    );
    assert!(
        wrapped
            .stdout
            .contains("FillHeap: OutOfMemoryError after holding"),
        "{}",
        wrapped.tail()
    );
    assert_eq!(
        oom_kills(&wrapped_group),
        0,
        "the kernel OOM-killed under jwrap"
    );
}

/// Stress (every memory region busy, the heap 85 % live) runs to its end under jwrap, as the
/// entrypoint of a container (PID 1, private cgroup namespace), with the kernel's limit of `mib`.
fn stress_survives(mib: u64, blind: bool) {
    let name = format!("stress-{mib}m-{}", if blind { "blind" } else { "aware" });
    let (group, programs) = match setup(&name, mib) {
        Ok(ready) => ready,
        Err(reason) => skip!("{reason}"),
    };
    let classpath = programs.to_string_lossy().into_owned();
    let mut args = vec!["-v", "--", "java"];
    if blind {
        args.push(BLIND);
    }
    args.extend_from_slice(&["-cp", &classpath, "Stress"]);
    args.extend_from_slice(&STRESS_ARGS);

    let run = finish(jwrap_in(&group, Namespaces::PrivateCgroupAndPid, &args));
    assert_eq!(
        run.code(),
        Some(0),
        "Stress under jwrap in {mib} MiB ({}; kernel OOM kills: {}): {}",
        if blind {
            "blind JVM"
        } else {
            "container-aware JVM"
        },
        oom_kills(&group),
        run.tail()
    );
    assert!(run.stdout.contains("Stress: ok"), "{}", run.tail());
}

#[test]
fn c_stress_survives_256m_blind() {
    stress_survives(256, true);
}

#[test]
fn c_stress_survives_256m_aware() {
    stress_survives(256, false);
}

#[test]
fn c_stress_survives_512m_blind() {
    stress_survives(512, true);
}

#[test]
fn c_stress_survives_512m_aware() {
    stress_survives(512, false);
}

#[test]
fn c_stress_survives_1g_blind() {
    stress_survives(1024, true);
}

#[test]
fn c_stress_survives_1g_aware() {
    stress_survives(1024, false);
}

#[test]
fn c_stress_survives_2g_blind() {
    stress_survives(2048, true);
}

#[test]
fn c_stress_survives_2g_aware() {
    stress_survives(2048, false);
}

#[test]
fn heap_of_flags_reads_the_last_heap_setting() {
    let flags = |list: &[&str]| {
        list.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(heap_of_flags(&flags(&["-Xmx300m"])), Some(300 * MIB));
    assert_eq!(
        heap_of_flags(&flags(&["-Xmx1g", "-XX:MaxHeapSize=157286400"])),
        Some(157_286_400)
    );
    assert_eq!(
        heap_of_flags(&flags(&["-XX:MaxRAM=512m", "-XX:MaxRAMPercentage=50.0"])),
        Some(256 * MIB)
    );
    assert_eq!(heap_of_flags(&flags(&["-XX:MaxRAM=512m", "-Xss1m"])), None);
}
