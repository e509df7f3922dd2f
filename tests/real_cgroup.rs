//! Detection in real cgroup v1 groups of this machine (root only; skipped elsewhere): the kernel's
//! own files, in the three ways a container sees them, and the `realcg` harness itself.

use crate::realcg::{Limits, Namespaces, RealCgroup, SETUP_FAILED};
use crate::skip;
use crate::util::{jwrap, jwrap_path};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use jwrap::units::MIB;

/// 300 MiB, half a CPU, CPU 0 only.
fn container_limits() -> Limits {
    Limits {
        memory_bytes: Some(300 * MIB),
        cpu_quota_us: Some(50_000),
        cpu_period_us: 100_000,
        cpuset: Some("0".to_string()),
    }
}

/// `program args` in the group, with the variables that change jwrap's behaviour removed (the
/// same ones `util::jwrap()` removes).
fn run_in(group: &RealCgroup, ns: Namespaces, program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    let mut command = group.command(ns, program, args);
    scrub(&mut command);
    let output = command.output().expect("run the command in the cgroup");
    assert_ne!(
        output.status.code(),
        Some(SETUP_FAILED),
        "cgroup set-up failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn scrub(command: &mut Command) {
    for (name, value) in jwrap().get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `jwrap info --json` run inside the group.
fn info_in(group: &RealCgroup, ns: Namespaces) -> Value {
    let output = run_in(group, ns, jwrap_path(), &["info", "--json"]);
    serde_json::from_str(&stdout_of(&output)).expect("info --json prints JSON")
}

fn file_in(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// The numbers of `container_limits()`, each from where it is set.
fn assert_container_limits(info: &Value, memory_source: &str, cpu_source: &str) {
    assert_eq!(info["cgroup"]["version"], 1, "{info:#}");
    assert_eq!(info["memory"]["limit_bytes"], 314_572_800, "{info:#}");
    assert_eq!(info["memory"]["source"], memory_source, "{info:#}");
    assert_eq!(info["cpu"]["limit"], 0.5, "{info:#}");
    assert_eq!(info["cpu"]["source"], cpu_source, "{info:#}");
    assert_eq!(info["cpu"]["effective"], 1, "{info:#}");
    assert_eq!(info["cpu"]["cpuset"], "0", "{info:#}");
}

#[test]
fn limits_below_the_mount_root_in_host_namespaces() {
    let group = match RealCgroup::create("host-ns", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    // The root group is unlimited: a reader of /sys/fs/cgroup/memory/memory.limit_in_bytes
    // would find nothing. jwrap must follow /proc/self/cgroup down to the group.
    let root_limit = std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .expect("the root memory group");
    assert_ne!(root_limit.trim(), "314572800");

    let info = info_in(&group, Namespaces::Host);
    assert_container_limits(
        &info,
        &file_in(&group.memory_dir(), "memory.limit_in_bytes"),
        &file_in(&group.cpu_dir(), "cpu.cfs_quota_us"),
    );
}

#[test]
fn limits_at_the_root_of_a_private_cgroup_namespace() {
    let group = match RealCgroup::create("cgroupns", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let info = info_in(&group, Namespaces::PrivateCgroup);
    assert_container_limits(
        &info,
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    );
}

#[test]
fn limits_seen_by_jwrap_as_pid_1_in_private_cgroup_and_pid_namespaces() {
    let group = match RealCgroup::create("pid1", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    // `exec` keeps the shell's PID, so the line before the JSON is jwrap's own PID.
    let jwrap_binary = jwrap_path().to_string_lossy().into_owned();
    let output = run_in(
        &group,
        Namespaces::PrivateCgroupAndPid,
        "sh",
        &["-c", r#"echo $$; exec "$0" info --json"#, &jwrap_binary],
    );
    let stdout = stdout_of(&output);
    let (pid, json) = stdout.split_once('\n').expect("a PID line, then JSON");
    assert_eq!(pid, "1");
    let info: Value = serde_json::from_str(json).expect("info --json prints JSON");
    assert_container_limits(
        &info,
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    );
}

#[test]
fn limit_on_the_parent_found_from_an_unlimited_child() {
    let parent = match RealCgroup::create("parent", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let child = parent
        .child("child", Limits::default())
        .expect("a child group");
    let unlimited = std::fs::read_to_string(child.memory_dir().join("memory.limit_in_bytes"))
        .expect("the child's memory limit");
    assert_ne!(unlimited.trim(), "314572800");

    let info = info_in(&child, Namespaces::Host);
    assert_container_limits(
        &info,
        &file_in(&parent.memory_dir(), "memory.limit_in_bytes"),
        &file_in(&parent.cpu_dir(), "cpu.cfs_quota_us"),
    );

    // In the child's own cgroup namespace the parent's directory is out of sight; v1 still
    // shows the parent's memory limit in the child's memory.stat.
    let info = info_in(&child, Namespaces::PrivateCgroup);
    assert_eq!(info["memory"]["limit_bytes"], 314_572_800, "{info:#}");
    assert_eq!(
        info["memory"]["source"], "/sys/fs/cgroup/memory/memory.stat",
        "{info:#}"
    );
}

#[test]
fn a_command_runs_inside_the_group_and_its_exit_code_passes_through() {
    let group = match RealCgroup::create("run", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    // The command's own PID must be one of the group's members.
    let procs = file_in(&group.memory_dir(), "cgroup.procs");
    let output = run_in(
        &group,
        Namespaces::Host,
        jwrap_path(),
        &["--", "sh", "-c", r#"echo $$; cat "$0"; exit 7"#, &procs],
    );
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let own_pid = lines.next().expect("the command's PID");
    assert!(lines.any(|member| member == own_pid), "{stdout}");

    // jwrap as PID 1 of the namespace: the command's parent is PID 1, and its code comes back.
    let jwrap_binary = jwrap_path().to_string_lossy().into_owned();
    let output = run_in(
        &group,
        Namespaces::PrivateCgroupAndPid,
        "sh",
        &[
            "-c",
            r#"exec "$0" -- sh -c 'echo $PPID; exit 9'"#,
            &jwrap_binary,
        ],
    );
    assert_eq!(output.status.code(), Some(9), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n");
}

#[test]
fn private_cgroup_namespace_looks_like_a_container() {
    let group = match RealCgroup::create("view", container_limits()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let cgroup = stdout_of(&run_in(
        &group,
        Namespaces::PrivateCgroup,
        "cat",
        &["/proc/self/cgroup"],
    ));
    for controller in ["memory", "cpu", "cpuset"] {
        let line = cgroup
            .lines()
            .find(|line| line.split(':').nth(1) == Some(controller))
            .unwrap_or_else(|| panic!("no {controller} line in {cgroup}"));
        assert!(line.ends_with(&format!(":{controller}:/")), "{cgroup}");
    }
    // One memory mount, rooted at the group, with the group's limit at its top.
    let mountinfo = stdout_of(&run_in(
        &group,
        Namespaces::PrivateCgroup,
        "cat",
        &["/proc/self/mountinfo"],
    ));
    let memory_mounts: Vec<&str> = mountinfo
        .lines()
        .filter(|line| line.contains(" - cgroup ") && line.ends_with(",memory"))
        .collect();
    assert_eq!(memory_mounts.len(), 1, "{mountinfo}");
    assert_eq!(memory_mounts[0].split(' ').nth(3), Some("/"), "{mountinfo}");
    let limit = stdout_of(&run_in(
        &group,
        Namespaces::PrivateCgroup,
        "cat",
        &["/sys/fs/cgroup/memory/memory.limit_in_bytes"],
    ));
    assert_eq!(limit.trim(), "314572800");
}

#[test]
fn going_over_the_memory_limit_is_an_oom_kill_inside_the_group() {
    let group = match RealCgroup::create(
        "oom",
        Limits {
            memory_bytes: Some(64 * MIB),
            ..Limits::default()
        },
    ) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    // `tail` keeps the last line of 200 MiB without newlines: all of it, in memory.
    let output = run_in(
        &group,
        Namespaces::Host,
        "sh",
        &["-c", "head -c 200m /dev/zero | tail >/dev/null"],
    );
    assert_eq!(output.status.code(), Some(128 + 9), "{output:?}");
    let oom_control = std::fs::read_to_string(group.memory_dir().join("memory.oom_control"))
        .expect("memory.oom_control");
    assert!(oom_control.contains("oom_kill 1"), "{oom_control}");
}

#[test]
fn drop_kills_what_is_left_and_removes_the_groups() {
    let group = match RealCgroup::create("leftover", Limits::default()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let child = group
        .child("below", Limits::default())
        .expect("a child group");
    let mut sleeper = child
        .command(Namespaces::Host, "sleep", &["600"])
        .spawn()
        .expect("start sleep");
    let procs = child.memory_dir().join("cgroup.procs");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&procs)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "sleep never joined {}",
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let dirs = [
        group.memory_dir(),
        group.cpu_dir(),
        group.cpuset_dir(),
        child.memory_dir(),
    ];
    // The parent goes first, with the child and its process still in it.
    drop(group);
    let status = sleeper.wait().expect("wait for sleep");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    for dir in dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    drop(child);
}
