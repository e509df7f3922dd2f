//! What jwrap does with files that are not what it expects at the paths it reads: a FIFO, a
//! character device, a file far larger than any the kernel writes there. Each read accepts
//! regular files only, up to `jwrap::root::MAX_FILE_BYTES`; anything else ends in one warning
//! naming the file, and jwrap still answers, promptly (doc/contract.md, "Files jwrap reads").

use crate::detect::copy_of_fixture;
use crate::util::jwrap;
use jwrap::root::{ReadError, Root};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longer than any of these runs takes on a loaded machine, far shorter than a hang.
const BOUND: Duration = Duration::from_secs(20);

/// `command`'s output, or a failure if it has not finished within `BOUND` (it is killed then).
fn output_within_bound(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jwrap");
    let start = Instant::now();
    while child.try_wait().expect("wait for jwrap").is_none() {
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jwrap still ran after {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("jwrap's output")
}

/// `jwrap OPTIONS info --json --root ROOT`, which must succeed within `BOUND`.
pub(crate) fn info_json(root: &Path, options: &[&str]) -> Value {
    let mut command = jwrap();
    command
        .args(options)
        .args(["info", "--json", "--root"])
        .arg(root);
    let output = output_within_bound(command);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("jwrap info --json prints JSON")
}

/// The one warning that names `path`.
fn warning_naming(actual: &Value, path: &str) -> String {
    let naming: Vec<&str> = actual["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|warning| warning.contains(path))
        .collect();
    assert_eq!(naming.len(), 1, "one warning should name {path}: {actual}");
    naming[0].to_string()
}

fn make_fifo(path: &Path) {
    std::fs::remove_file(path).expect("remove the file");
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
}

#[test]
fn a_fifo_in_place_of_a_limit_file_is_unknown_and_does_not_block() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    make_fifo(&copy.path().join("sys/fs/cgroup/memory.max"));
    let actual = info_json(copy.path(), &[]);
    assert_eq!(actual["memory"]["state"], "unknown", "{actual}");
    let warning = warning_naming(&actual, "/sys/fs/cgroup/memory.max");
    assert!(warning.contains("not a regular file (a FIFO)"), "{warning}");
    // The CPU limit beside it is still read.
    assert_eq!(actual["cpu"]["state"], "set", "{actual}");
}

#[test]
fn a_fifo_in_place_of_proc_self_cgroup_does_not_block() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    make_fifo(&copy.path().join("proc/self/cgroup"));
    let actual = info_json(copy.path(), &[]);
    assert_eq!(actual["memory"]["state"], "unknown", "{actual}");
    let warning = warning_naming(&actual, "/proc/self/cgroup");
    assert!(warning.contains("not a regular file (a FIFO)"), "{warning}");
}

#[test]
fn a_character_device_in_place_of_meminfo_is_not_read() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    let meminfo = copy.path().join("proc/meminfo");
    std::fs::remove_file(&meminfo).expect("remove meminfo");
    // /dev/zero would be read until memory runs out.
    std::os::unix::fs::symlink("/dev/zero", &meminfo).expect("symlink to /dev/zero");
    let actual = info_json(copy.path(), &[]);
    assert_eq!(actual["host"]["memory_bytes"], Value::Null, "{actual}");
    let warning = warning_naming(&actual, "/proc/meminfo");
    assert!(
        warning.contains("not a regular file (a character device)"),
        "{warning}"
    );
    // The container's limit does not depend on it.
    assert_eq!(actual["memory"]["state"], "set", "{actual}");
}

#[test]
fn an_oversized_proc_self_cgroup_is_refused_at_the_cap() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    let cgroup = copy.path().join("proc/self/cgroup");
    // 200 MB, sparse: no disk space, yet every byte readable (as zeros).
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&cgroup)
        .expect("open /proc/self/cgroup");
    file.set_len(200_000_000).expect("grow the file");
    let actual = info_json(copy.path(), &[]);
    assert_eq!(actual["memory"]["state"], "unknown", "{actual}");
    let warning = warning_naming(&actual, "/proc/self/cgroup");
    let cap = jwrap::root::MAX_FILE_BYTES >> 20;
    assert!(
        warning.contains(&format!("larger than {cap} MiB")),
        "{warning}"
    );
}

#[test]
fn a_fifo_at_a_limit_file_still_runs_the_command() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    make_fifo(&copy.path().join("sys/fs/cgroup/memory.max"));
    let mut command = jwrap();
    command
        .env("JWRAP_ROOT", copy.path())
        .args(["--", "sh", "-c", "exit 7"]);
    let output = output_within_bound(command);
    assert_eq!(output.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("jwrap: warning: /sys/fs/cgroup/memory.max: not a regular file"),
        "{stderr}"
    );
}

/// `info --json` for COMMAND with a fake JDK, within `BOUND`.
fn java_info(root: &Path, command: &[&std::ffi::OsStr]) -> Value {
    let mut jwrap = crate::java::jwrap_in(true, root, &[], &[]);
    jwrap.arg("--").args(command);
    let output = output_within_bound(jwrap);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The plan's reasons, as one text to search.
fn reasons(info: &Value) -> String {
    info["command"]["reasons"].to_string()
}

#[test]
fn a_fifo_or_a_device_as_an_argfile_is_not_read_and_stays_for_java() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let java = crate::java::fake_jdk(&dir.path().join("jdk"), Some("17.0.9"), "exit 1");
    let root = crate::java::fake_root(dir.path(), true, 2);
    let fifo = dir.path().join("args.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let device = dir.path().join("args.zero");
    std::os::unix::fs::symlink("/dev/zero", &device).expect("symlink to /dev/zero");
    for (argfile, kind) in [(&fifo, "a FIFO"), (&device, "a character device")] {
        let word = format!("@{}", argfile.display());
        let info = java_info(&root, &[java.as_os_str(), word.as_ref(), "Main".as_ref()]);
        let reasons = reasons(&info);
        assert!(
            reasons.contains(&format!("{word} is {kind}: left unread for java")),
            "{reasons}"
        );
        // Not consumed: java still gets the word, and reads the file itself.
        let argv = info["command"]["argv"].to_string();
        assert!(argv.contains(&word), "{argv}");
    }
}

#[test]
fn a_fifo_as_a_jdks_release_file_is_not_read() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let home = dir.path().join("jdk");
    let java = crate::java::fake_jdk(
        &home,
        None,
        "printf 'openjdk version \"17.0.9\" 2023-10-17\\n' >&2",
    );
    nix::unistd::mkfifo(
        &home.join("release"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .expect("mkfifo");
    let root = crate::java::fake_root(dir.path(), true, 2);
    let info = java_info(&root, &[java.as_os_str(), "Main".as_ref()]);
    // The version then comes from `java -version`, as for a JDK without a release file.
    assert_eq!(info["java"]["version"], "17.0.9", "{info}");
    assert_eq!(info["java"]["version_source"], "java -version", "{info}");
}

// Root itself: paths stay below the prefix, and each failure is told apart.

#[test]
fn absolute_paths_stay_below_the_prefix() {
    let root = Root::new("/tmp/fake");
    assert_eq!(
        root.real_path(Path::new("/sys/fs/cgroup/memory.max")),
        PathBuf::from("/tmp/fake/sys/fs/cgroup/memory.max")
    );
    assert_eq!(
        root.real_path(Path::new("/../../etc/passwd")),
        PathBuf::from("/tmp/fake/etc/passwd")
    );
    assert_eq!(
        root.real_path(Path::new("/sys/fs/cgroup/a/../b")),
        PathBuf::from("/tmp/fake/sys/fs/cgroup/b")
    );
}

#[test]
fn the_host_root_is_slash() {
    let root = Root::host();
    assert_eq!(
        root.real_path(Path::new("/proc/self/cgroup")),
        PathBuf::from("/proc/self/cgroup")
    );
    // `..` is resolved the same way as below any other prefix.
    assert_eq!(
        root.real_path(Path::new("/sys/fs/cgroup/a/../b")),
        PathBuf::from("/sys/fs/cgroup/b")
    );
    assert_eq!(
        root.real_path(Path::new("/../../proc/meminfo")),
        PathBuf::from("/proc/meminfo")
    );
}

#[test]
fn files_are_read_whole_and_failures_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::new(dir.path());
    std::fs::create_dir(dir.path().join("proc")).unwrap();
    let long: String = (0..1500).fold(String::new(), |mut text, line| {
        let _ = writeln!(text, "{line:07}");
        text
    });
    std::fs::write(dir.path().join("proc/long"), &long).unwrap();
    std::fs::write(dir.path().join("proc/empty"), "").unwrap();
    std::fs::write(dir.path().join("proc/binary"), [0xff, 0xfe, 0]).unwrap();
    assert_eq!(root.read(Path::new("/proc/long")).unwrap(), long);
    assert_eq!(root.read(Path::new("/proc/empty")).unwrap(), "");
    assert_eq!(
        root.read(Path::new("/proc/binary")),
        Err(ReadError::NotText)
    );
    assert_eq!(root.read(Path::new("/proc/none")), Err(ReadError::Missing));
    assert_eq!(
        root.read(Path::new("/proc")),
        Err(ReadError::NotRegular("a directory"))
    );
}

#[test]
fn kernel_files_that_report_size_0_are_read_whole() {
    let text = Root::host()
        .read(Path::new("/proc/self/mountinfo"))
        .unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string("/proc/self/mountinfo").unwrap()
    );
}
