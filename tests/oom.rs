//! The explanation of an out-of-memory kill, with the real binary.
//!
//! Fake roots (a copy of a fixture with the kill counter added) run anywhere: the command
//! itself raises the counter in the fake cgroup file and then kills itself with SIGKILL, which
//! is what jwrap sees when the kernel's OOM killer acts. Real cgroup v1 groups (root only) let
//! the kernel do it for real: a JVM whose heap is larger than its group, and a shell pipeline.

use crate::realcg::{Limits, Namespaces, RealCgroup};
use crate::skip;
use crate::util::{fixture, jwrap, jwrap_path};
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use jwrap::units::MIB;
/// A v2 container with a 1 GiB limit in `/sys/fs/cgroup/memory.max`.
const V2_FIXTURE: &str = "docker-v2-cgroupns-private";
/// A v1 container whose memory cgroup is mounted at `/sys/fs/cgroup/memory`, 1 GiB limit.
const V1_FIXTURE: &str = "k8s-v1-pod-limit";
/// What the first line of the explanation says.
const KILLED: &str = "killed by the kernel's out-of-memory killer";
/// A JVM never needs longer than this here; one still running is stuck.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

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

    /// The lines of jwrap's explanation, from its first line to its last.
    fn explanation(&self) -> Vec<&str> {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let Some(first) = lines.iter().position(|line| line.contains(KILLED)) else {
            return Vec::new();
        };
        let last = lines
            .iter()
            .rposition(|line| line.contains("To fix: "))
            .unwrap_or(first);
        lines[first..=last].to_vec()
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

/// A writable copy of a fixture.
fn copy_of(name: &str) -> TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(name), dir.path());
    dir
}

/// A v2 fake root with `memory.events` (no kill yet) and `memory.peak`; returns the root and
/// its `memory.events`.
fn v2_root() -> (TempDir, PathBuf) {
    let root = copy_of(V2_FIXTURE);
    let cgroup = root.path().join("sys/fs/cgroup");
    let events = cgroup.join("memory.events");
    fs::write(&events, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n").unwrap();
    fs::write(cgroup.join("memory.peak"), "1073741824\n").unwrap();
    (root, events)
}

/// `jwrap [-q] --root ROOT -- sh -c SCRIPT sh ARG`.
fn jwrap_sh(root: &Path, quiet: bool, script: &str, arg: &Path) -> Command {
    let mut command = jwrap();
    if quiet {
        command.arg("-q");
    }
    command
        .arg("--root")
        .arg(root)
        .args(["--", "sh", "-c", script, "sh"])
        .arg(arg);
    command
}

/// Raise the kill counter in the file "$1" as the kernel does, then die of SIGKILL.
const OOM_KILLED: &str = r#"printf 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n' > "$1"; kill -9 $$"#;

#[test]
fn a_rising_kill_counter_and_sigkill_get_one_explanation_on_v2() {
    let (root, events) = v2_root();
    let run = finish(jwrap_sh(root.path(), false, OOM_KILLED, &events));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    assert!(
        run.stderr.lines().all(|line| line.starts_with("jwrap: ")),
        "{}",
        run.stderr
    );
    let block = run.explanation();
    assert_eq!(block.len(), 6, "{}", run.stderr);
    // The fake cgroup never nears its limit (and the command dies at once): the watch says it
    // cannot tell what filled it.
    assert!(
        block[2].starts_with("jwrap: The memory watch cannot name what filled it: "),
        "{}",
        block[2]
    );
    let block: Vec<&str> = [&block[..2], &block[3..]].concat();
    assert_eq!(
        block[0],
        "jwrap: sh was killed by the kernel's out-of-memory killer (oom_kill went from 0 to 1 in \
         /sys/fs/cgroup/memory.events)."
    );
    assert_eq!(
        block[1],
        "jwrap: It went over the container's memory limit: 1 GiB (1073741824 bytes), from \
         /sys/fs/cgroup/memory.max."
    );
    assert!(
        block[2].starts_with("jwrap: Heap: sh is not a Java command"),
        "{}",
        block[2]
    );
    assert_eq!(
        block[3],
        "jwrap: Peak memory use: 1 GiB (1073741824 bytes, /sys/fs/cgroup/memory.peak)."
    );
    assert!(block[4].contains("or give the container a larger memory limit"));
}

#[test]
fn quiet_keeps_the_explanation_of_a_kill() {
    let (root, events) = v2_root();
    let run = finish(jwrap_sh(root.path(), true, OOM_KILLED, &events));
    assert_eq!(run.code(), Some(137));
    assert!(run.stderr.contains(KILLED), "{}", run.stderr);
    assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
}

#[test]
fn a_plain_kill_9_leaves_the_counter_alone_and_gets_no_explanation() {
    let (root, events) = v2_root();
    let run = finish(jwrap_sh(root.path(), false, "kill -9 $$", &events));
    assert_eq!(run.code(), Some(137));
    assert!(!run.stderr.contains(KILLED), "{}", run.stderr);
}

#[test]
fn a_shell_that_exits_137_after_its_child_was_killed_counts_too() {
    let (root, events) = v2_root();
    let script = r#"printf 'oom_kill 1\n' > "$1"; sh -c 'kill -9 $$'; exit $?"#;
    let run = finish(jwrap_sh(root.path(), false, script, &events));
    assert_eq!(run.code(), Some(137));
    assert!(
        run.stderr.contains(&format!("jwrap: sh was {KILLED}")),
        "{}",
        run.stderr
    );
    // Any other exit is not explained, even though the counter rose.
    let (root, events) = v2_root();
    let script = r#"printf 'oom_kill 1\n' > "$1"; exit 1"#;
    let run = finish(jwrap_sh(root.path(), false, script, &events));
    assert_eq!(run.code(), Some(1));
    assert!(!run.stderr.contains(KILLED), "{}", run.stderr);
}

#[test]
fn v1_without_a_kill_counter_falls_back_to_failcnt_at_the_limit() {
    let root = copy_of(V1_FIXTURE);
    let cgroup = root.path().join("sys/fs/cgroup/memory");
    // A kernel before 4.13: memory.oom_control has no oom_kill line.
    fs::write(
        cgroup.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\n",
    )
    .unwrap();
    fs::write(cgroup.join("memory.failcnt"), "0\n").unwrap();
    fs::write(cgroup.join("memory.max_usage_in_bytes"), "536870912\n").unwrap();
    let script = r#"echo 1073741824 > "$1/memory.max_usage_in_bytes"; echo 12 > "$1/memory.failcnt"; kill -9 $$"#;
    let run = finish(jwrap_sh(root.path(), false, script, &cgroup));
    assert_eq!(run.code(), Some(137));
    let block = run.explanation();
    assert!(
        block[0].starts_with(
            "jwrap: sh was most likely killed by the kernel's out-of-memory killer: memory use \
             hit the limit during the run (/sys/fs/cgroup/memory/memory.failcnt went from 0 to 12)"
        ),
        "{}",
        run.stderr
    );
    assert!(block[1].contains("1 GiB (1073741824 bytes), from /sys/fs/cgroup/memory/memory.stat"));
}

/// A program that fills its heap with 256 KiB arrays (not humongous for G1) until it dies.
const FILL_JAVA: &str = "public class Fill {
    public static void main(String[] args) {
        java.util.List<byte[]> held = new java.util.ArrayList<>();
        while (true) {
            byte[] chunk = new byte[256 * 1024];
            for (int i = 0; i < chunk.length; i += 4096) chunk[i] = 1;
            held.add(chunk);
        }
    }
}
";

/// A real v1 group with `mib` MiB, or why there is none.
fn group(name: &str, mib: u64) -> Result<RealCgroup, String> {
    RealCgroup::create(
        name,
        Limits {
            memory_bytes: Some(mib * MIB),
            ..Limits::default()
        },
    )
}

/// `jwrap ARGS` inside `group`, with the clean environment of `util::jwrap()`.
fn jwrap_in(group: &RealCgroup, args: &[&str]) -> Command {
    let clean = jwrap();
    let mut command = group.command(Namespaces::Host, jwrap_path(), args);
    for (name, value) in clean.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

/// The kernel's kills in the group (v1 `memory.oom_control`).
fn kernel_kills(group: &RealCgroup) -> u64 {
    let text = fs::read_to_string(group.memory_dir().join("memory.oom_control")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// `Fill.java` in a temporary directory, run as a single-file source program (JDK 11+).
fn fill_program() -> Result<(TempDir, PathBuf), String> {
    let version = Command::new("java").arg("-version").output();
    if !version.is_ok_and(|output| output.status.success()) {
        return Err("no java on PATH".to_string());
    }
    let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
    let source = dir.path().join("Fill.java");
    fs::write(&source, FILL_JAVA).map_err(|err| err.to_string())?;
    Ok((dir, source))
}

#[test]
fn a_jvm_given_more_heap_than_its_cgroup_is_explained() {
    let (_dir, source) = match fill_program() {
        Ok(program) => program,
        Err(reason) => skip!("{reason}"),
    };
    let source = source.to_str().unwrap();
    // The user's own -Xmx, four times the limit.
    let users = match group("oom-user-xmx", 256) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let run = finish(jwrap_in(&users, &["--", "java", "-Xmx1g", source]));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    assert_eq!(
        kernel_kills(&users),
        1,
        "the kernel's OOM killer did not act"
    );
    let block = run.explanation();
    assert_eq!(block.len(), 6, "{}", run.stderr);
    assert!(block[0].starts_with(&format!(
        "jwrap: java was {KILLED} (oom_kill went from 0 to 1 in "
    )));
    // The memory watch saw the heap grow, even in a fill of a fraction of a second.
    assert!(
        block[2].starts_with("jwrap: What filled it: heap — the JVM's heap had "),
        "{}",
        run.stderr
    );
    let block: Vec<&str> = [&block[..2], &block[3..]].concat();
    let limit_file = users.memory_dir().join("memory.limit_in_bytes");
    assert!(
        block[1].ends_with(&format!(
            "256 MiB (268435456 bytes), from {}.",
            limit_file.display()
        )),
        "{}",
        block[1]
    );
    // The JVM's own report when the watch read it before the kill, else the plan's.
    assert!(
        [
            "jwrap: Heap: -Xmx1g (in the command line), the user's own setting; jwrap added no -Xmx.",
            "jwrap: Heap: up to 1024 MiB with Serial (from -Xmx1g, not jwrap's), as the JVM itself \
             reported while it ran.",
        ]
        .contains(&block[2]),
        "{}",
        block[2]
    );
    assert!(
        block[3].starts_with("jwrap: Peak memory use: "),
        "{}",
        block[3]
    );
    assert!(block[4].starts_with("jwrap: To fix: lower -Xmx1g"));

    // jwrap's own heap, told to take 150 % of the limit.
    let percent = match group("oom-heap-percent", 256) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let run = finish(jwrap_in(
        &percent,
        &["--heap-percent", "150", "--", "java", source],
    ));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    let block = run.explanation();
    assert_eq!(block.len(), 6, "{}", run.stderr);
    assert!(
        block[2].starts_with("jwrap: What filled it: heap"),
        "{}",
        run.stderr
    );
    let block: Vec<&str> = [&block[..2], &block[3..]].concat();
    assert!(
        [
            "jwrap: Heap: -Xmx384m, set by jwrap (in the arguments, --heap-percent 150).",
            "jwrap: Heap: up to 384 MiB with Serial (from -Xmx384m, set by jwrap), as the JVM \
             itself reported while it ran.",
        ]
        .contains(&block[2]),
        "{}",
        block[2]
    );
    assert!(block[4].starts_with("jwrap: To fix: use a --heap-percent below 150"));
}

#[test]
fn a_real_kill_9_is_not_explained() {
    let group = match group("oom-kill-9", 64) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let run = finish(jwrap_in(&group, &["--", "sh", "-c", "kill -9 $$"]));
    assert_eq!(run.code(), Some(137));
    assert_eq!(kernel_kills(&group), 0);
    assert!(!run.stderr.contains(KILLED), "{}", run.stderr);
}

#[test]
fn a_non_java_oom_is_explained_with_its_process_and_quiet_keeps_it() {
    // tail keeps the last "line" of a stream without newlines: all of it. 4 MiB every 20 ms:
    // the group fills in about a third of a second.
    let pipeline = "for i in $(seq 150); do head -c 4m /dev/zero; sleep 0.02; done | tail";
    let loud = match group("oom-pipeline", 64) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let run = finish(jwrap_in(&loud, &["--", "sh", "-c", pipeline]));
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    assert_eq!(kernel_kills(&loud), 1);
    let block = run.explanation();
    assert_eq!(block.len(), 6, "{}", run.stderr);
    assert!(block.iter().all(|line| line.starts_with("jwrap: ")));
    assert!(block[1].contains("64 MiB (67108864 bytes)"), "{}", block[1]);
    assert!(
        block[2].starts_with("jwrap: What filled it: process memory — ")
            && block[2].contains("the largest, tail (pid "),
        "{}",
        block[2]
    );
    assert!(
        block[3].starts_with("jwrap: Heap: sh is not a Java command"),
        "{}",
        block[3]
    );

    let quiet = match group("oom-pipeline-quiet", 64) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let run = finish(jwrap_in(&quiet, &["-q", "--", "sh", "-c", pipeline]));
    assert_eq!(run.code(), Some(137));
    assert_eq!(kernel_kills(&quiet), 1);
    assert_eq!(run.explanation().len(), 6, "{}", run.stderr);
    assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
}

#[test]
fn with_the_watch_off_the_explanation_has_no_region() {
    let (root, events) = v2_root();
    let mut command = jwrap_sh(root.path(), false, OOM_KILLED, &events);
    command.env("JWRAP_MEMORY_WATCH", "off");
    let run = finish(command);
    assert_eq!(run.code(), Some(137), "{}", run.stderr);
    let block = run.explanation();
    assert_eq!(block.len(), 5, "{}", run.stderr);
    assert!(!run.stderr.contains("What filled it") && !run.stderr.contains("memory watch"));
}
