//! What jwrap says about odd values: each message tells the truth about the value it names
//! (no "no `MemTotal` line" for a `MemTotal` of 0, no "0 CPUs" for a limit above 0) and no flag it
//! emits is a value the JVM would read as zero.

use crate::detect::copy_of_fixture;
use crate::files::info_json;
use crate::util::jwrap;
use serde_json::Value;

#[test]
fn a_memtotal_of_0_is_reported_as_such() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    std::fs::write(
        copy.path().join("proc/meminfo"),
        "MemTotal:              0 kB\nMemFree:         1000 kB\n",
    )
    .expect("write meminfo");
    let actual = info_json(copy.path(), &[]);
    assert_eq!(actual["host"]["memory_bytes"], Value::Null, "{actual}");
    let warnings = actual["warnings"].to_string();
    assert!(
        warnings.contains("/proc/meminfo: MemTotal is 0"),
        "{warnings}"
    );
    assert!(!warnings.contains("no MemTotal line"), "{warnings}");
}

#[test]
fn a_meminfo_without_memtotal_says_so() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    std::fs::write(copy.path().join("proc/meminfo"), "MemFree: 1000 kB\n").expect("write");
    let actual = info_json(copy.path(), &[]);
    let warnings = actual["warnings"].to_string();
    assert!(
        warnings.contains("/proc/meminfo: no MemTotal line"),
        "{warnings}"
    );
}

#[test]
fn a_cpu_limit_above_0_is_never_shown_as_0_cpus() {
    // The kernel's smallest quota: 1 ms every second.
    assert_eq!(jwrap::units::human_cpus(0.001), "0.001");
    for cpus in [0.0004, 0.000_001] {
        let shown = jwrap::units::human_cpus(cpus);
        assert_ne!(
            shown.trim_start_matches(['0', '.']),
            "",
            "{cpus} shown as {shown}"
        );
    }
    // A fake root can hold a quota below the kernel's smallest.
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    std::fs::write(copy.path().join("sys/fs/cgroup/cpu.max"), "1 1000000\n").expect("write");
    let output = jwrap()
        .args(["info", "--root"])
        .arg(copy.path())
        .output()
        .expect("run jwrap");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(!table.contains(" 0 CPUs"), "{table}");
}

#[test]
fn a_cpus_override_below_the_kernels_smallest_quota_is_refused() {
    let output = jwrap()
        .args(["--cpus", "0.0001", "--", "true"])
        .output()
        .expect("run jwrap");
    assert_eq!(output.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("jwrap: --cpus: "), "{stderr}");
}

#[test]
fn jvm_size_flags_are_never_0() {
    use jwrap::java::decide::size_flag;
    assert_eq!(size_flag(512 << 20), "512m");
    assert_eq!(size_flag(3 << 10), "3k");
    assert_eq!(size_flag((1 << 20) + 1), "1024k");
    // Under 1 KiB: in bytes, not rounded down to `0k`.
    assert_eq!(size_flag(1000), "1000");
    assert_eq!(size_flag(1), "1");
}

#[test]
fn a_tiny_memory_override_gives_no_zero_flag() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    let actual = info_json(copy.path(), &["--memory-limit", "1000"]);
    assert_eq!(actual["memory"]["limit_bytes"], 1000, "{actual}");
    let output = jwrap()
        .args([
            "--memory-limit",
            "1000",
            "--java-flags",
            "env",
            "info",
            "--json",
            "--root",
        ])
        .arg(copy.path())
        .args(["--", "sh", "-c", "true"])
        .output()
        .expect("run jwrap");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("=0k") && !text.contains("=0m"), "{text}");
}

#[test]
fn a_newline_in_commands_name_is_escaped_in_jwraps_message() {
    let output = jwrap()
        .args(["--", "no-such-program\njwrap: warning: forged\u{1b}[2J"])
        .output()
        .expect("run jwrap");
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("jwrap: ") && stderr.contains("\\n") && stderr.contains("\\u{1b}"),
        "{stderr:?}"
    );
}
