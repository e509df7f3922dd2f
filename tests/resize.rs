//! A memory limit lowered while the command runs (what a Kubernetes in-place resize does):
//! jwrap reports the change at once and warns before the kernel kills the JVM it sized for the
//! old limit. Real JVM, real cgroup v1 group; root only.

use crate::jvm_real::java_programs;
use crate::realcg::{Limits, RealCgroup};
use crate::skip;
use crate::util::jwrap_path;
use jwrap::units::MIB;
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const KILLED: &str = "killed by the kernel's out-of-memory killer";

#[test]
fn a_limit_lowered_below_the_sizing_is_reported_and_warned_about_before_the_kill() {
    let programs = match java_programs() {
        Ok(dir) => dir,
        Err(reason) => skip!("{reason}"),
    };
    let group = match RealCgroup::create(
        "resize-lowered",
        Limits {
            memory_bytes: Some(512 * MIB),
            ..Limits::default()
        },
    ) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    // No heap option: jwrap sizes the heap for 512 MiB; OomCause's heap grows 32 MiB a second.
    let mut command = group.clean_command(
        jwrap_path(),
        &[
            "--",
            "java",
            "-cp",
            programs.to_str().unwrap(),
            "OomCause",
            "heap",
        ],
    );
    let mut stderr_file = tempfile::tempfile().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file.try_clone().unwrap())
        .spawn()
        .unwrap();
    // Lower the limit to 256 MiB while the usage is still well below it.
    let usage_file = group.memory_dir().join("memory.usage_in_bytes");
    let started = Instant::now();
    loop {
        let usage: u64 = fs::read_to_string(&usage_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if usage >= 64 * MIB {
            assert!(usage < 200 * MIB, "the heap grew too fast: {usage} bytes");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the JVM never used 64 MiB"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    fs::write(
        group.memory_dir().join("memory.limit_in_bytes"),
        (256 * MIB).to_string(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("jwrap did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    stderr_file.rewind().unwrap();
    stderr_file.read_to_string(&mut stderr).unwrap();
    let code = status.code().or_else(|| status.signal().map(|s| 128 + s));
    assert_eq!(code, Some(137), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let position = |needle: &str| {
        lines
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stderr}"))
    };
    let changed = position("jwrap: the memory limit changed: 512 MiB → 256 MiB");
    let warned = position("jwrap: warning: the new memory limit, 256 MiB, is below the 512 MiB");
    let killed = position(KILLED);
    assert!(changed < warned && warned < killed, "{stderr}");
    assert!(
        lines[warned].contains("heap up to ") && lines[warned].contains("restart it"),
        "{}",
        lines[warned]
    );
    // The explanation speaks of the new limit, and of the heap that filled it.
    assert!(
        stderr.contains("memory limit: 256 MiB (268435456 bytes)")
            && stderr.contains("jwrap sized it for 512 MiB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("jwrap: What filled it: heap — "),
        "{stderr}"
    );
}
