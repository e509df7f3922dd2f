//! The JVM flags end to end: fake JDKs made at test time (a `release` file and a `bin/java`
//! shell script that prints its arguments and `JAVA_TOOL_OPTIONS`), run through the real jwrap
//! binary with a fake root, so the JDK's version, the cgroup layout and the user's settings are
//! all known.

use crate::util::jwrap;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// What the fake `java` does: print each argument and `JAVA_TOOL_OPTIONS`; on `-version`, run
/// `version_line` (and leave a mark, so a test can tell whether jwrap asked). Shell built-ins
/// only, or absolute paths: the tests' PATH holds no system directory.
fn java_script(version_line: &str) -> String {
    format!(
        "#!/bin/sh\n\
         if [ \"$1\" = \"-version\" ]; then\n\
         \x20 : > \"${{0%/*}}/asked-for-version\"\n\
         \x20 {version_line}\n\
         \x20 exit 0\n\
         fi\n\
         for arg in \"$@\"; do printf 'arg=%s\\n' \"$arg\"; done\n\
         printf 'JAVA_TOOL_OPTIONS=%s\\n' \"$JAVA_TOOL_OPTIONS\"\n"
    )
}

pub(crate) fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
}

pub(crate) fn write_executable(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A JDK at `home` whose `release` says `java_version` (no release file with `None`; then
/// `java -version` prints `version_line`).
pub(crate) fn fake_jdk(home: &Path, java_version: Option<&str>, version_line: &str) -> PathBuf {
    if let Some(version) = java_version {
        write(
            &home.join("release"),
            &format!(
                "IMPLEMENTOR=\"Test Vendor\"\nJAVA_VERSION=\"{version}\"\nOS_NAME=\"Linux\"\n"
            ),
        );
    }
    let java = home.join("bin").join("java");
    write_executable(&java, &java_script(version_line));
    java
}

/// A fake root: a cgroup v2 container (cgroupns=private) with a 1 GiB limit and a quota of
/// `cpus` on a 4-CPU host, or the same as cgroup v1.
pub(crate) fn fake_root(dir: &Path, v2: bool, cpus: u32) -> PathBuf {
    let root = dir.join("root");
    write(
        &root.join("proc/meminfo"),
        "MemTotal:       16384000 kB\nMemFree:        8000000 kB\n",
    );
    write(&root.join("sys/devices/system/cpu/online"), "0-3\n");
    let quota = cpus * 100_000;
    if v2 {
        write(
            &root.join("proc/self/mountinfo"),
            "30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        write(&root.join("proc/self/cgroup"), "0::/\n");
        let cg = root.join("sys/fs/cgroup");
        write(
            &cg.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        );
        write(&cg.join("memory.max"), "1073741824\n");
        write(&cg.join("cpu.max"), &format!("{quota} 100000\n"));
        write(&cg.join("cpu.weight"), "100\n");
        write(&cg.join("cpuset.cpus.effective"), "0-3\n");
    } else {
        write(
            &root.join("proc/self/mountinfo"),
            "25 20 0:22 / /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory\n\
             26 20 0:23 / /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct\n\
             27 20 0:24 / /sys/fs/cgroup/cpuset ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpuset\n",
        );
        write(
            &root.join("proc/self/cgroup"),
            "4:memory:/\n3:cpu,cpuacct:/\n2:cpuset:/\n",
        );
        let cg = root.join("sys/fs/cgroup");
        write(&cg.join("memory/memory.limit_in_bytes"), "1073741824\n");
        write(
            &cg.join("cpu,cpuacct/cpu.cfs_quota_us"),
            &format!("{quota}\n"),
        );
        write(&cg.join("cpu,cpuacct/cpu.cfs_period_us"), "100000\n");
        write(&cg.join("cpu,cpuacct/cpu.shares"), "1024\n");
        write(&cg.join("cpuset/cpuset.cpus"), "0-3\n");
    }
    root
}

/// jwrap (`info --json` with `info`) with a fake root, a PATH that finds java only in
/// `path_dirs`, and no Java variables but `env`.
pub(crate) fn jwrap_in(
    info: bool,
    root: &Path,
    path_dirs: &[&Path],
    env: &[(&str, &str)],
) -> Command {
    let mut command = jwrap();
    if info {
        command.args(["info", "--json"]);
    }
    let mut path: Vec<PathBuf> = path_dirs.iter().map(|d| d.to_path_buf()).collect();
    path.push(PathBuf::from("/nonexistent-java-free-dir"));
    command.env("PATH", std::env::join_paths(path).unwrap());
    for (name, value) in env {
        command.env(name, value);
    }
    command.arg("--root").arg(root);
    command
}

pub(crate) fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "jwrap failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The fake java's arguments and `JAVA_TOOL_OPTIONS`, as it printed them.
pub(crate) fn printed(output: &Output) -> (Vec<String>, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let args = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("arg="))
        .map(String::from)
        .collect();
    let tool_options = stdout
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_TOOL_OPTIONS="))
        .unwrap_or_else(|| panic!("the fake java did not run: {stdout}"))
        .to_string();
    (args, tool_options)
}

pub(crate) fn info_json(command: &mut Command) -> Value {
    let output = run(command);
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(crate) fn flags(info: &Value) -> Vec<String> {
    info["jvm_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn argv_mode_inserts_flags_right_after_java_and_keeps_the_users_order() {
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk"), Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let user_args = ["-Dapp=1", "-jar", "app.jar", "-Xmx9g", "last arg"];
    let output = run(jwrap_in(false, &root, &[], &[])
        .arg("--")
        .arg(&java)
        .args(user_args));
    let (args, tool_options) = printed(&output);
    assert!(tool_options.is_empty(), "{tool_options}");
    let user_start = args.len() - user_args.len();
    assert_eq!(
        args[user_start..],
        user_args,
        "the user's arguments moved: {args:?}"
    );
    let added = &args[..user_start];
    assert!(added.iter().any(|a| a.starts_with("-Xmx")), "{added:?}");
    assert!(
        added
            .iter()
            .all(|a| a.starts_with("-X") || a.starts_with("-D")),
        "{added:?}"
    );
    // The release file answered: no need to run java -version.
    assert!(!dir.path().join("jdk/bin/asked-for-version").exists());
}

#[test]
fn env_mode_appends_to_an_existing_java_tool_options() {
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk"), Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let output = run(
        jwrap_in(false, &root, &[], &[("JAVA_TOOL_OPTIONS", "-Dmine=1")])
            .args(["--java-flags", "env", "--"])
            .arg(&java)
            .args(["-jar", "app.jar"]),
    );
    let (args, tool_options) = printed(&output);
    assert_eq!(args, ["-jar", "app.jar"]);
    let words: Vec<&str> = tool_options.split(' ').collect();
    assert_eq!(words[0], "-Dmine=1", "{tool_options}");
    assert!(
        words[1..].iter().any(|w| w.starts_with("-Xmx")),
        "{tool_options}"
    );
}

#[test]
fn auto_mode_uses_java_tool_options_for_a_script_and_java_home() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    let java = fake_jdk(&home, Some("21.0.2"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let script = format!("exec '{}' -cp app Main", java.display());
    let output = run(
        jwrap_in(false, &root, &[], &[("JAVA_HOME", home.to_str().unwrap())])
            .args(["--", "/bin/sh", "-c", &script]),
    );
    let (args, tool_options) = printed(&output);
    assert_eq!(args, ["-cp", "app", "Main"]);
    assert!(tool_options.contains("-Xmx"), "{tool_options}");
}

#[test]
fn a_users_heap_in_any_channel_prevents_jwraps() {
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk"), Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    write(
        &dir.path().join("heap.args"),
        "# the user's argument file\n-Xmx300m\n",
    );
    let jar: &[&str] = &["-jar", "app.jar"];
    let channels = [
        ("argv", None, &["-Xmx300m", "-jar", "app.jar"][..]),
        ("@argfile", None, &["@heap.args", "-jar", "app.jar"][..]),
        (
            "JAVA_TOOL_OPTIONS",
            Some(("JAVA_TOOL_OPTIONS", "-Xmx300m")),
            jar,
        ),
        (
            "JDK_JAVA_OPTIONS",
            Some(("JDK_JAVA_OPTIONS", "-Xmx300m")),
            jar,
        ),
        (
            "_JAVA_OPTIONS",
            Some(("_JAVA_OPTIONS", "-XX:MaxRAMPercentage=60.0")),
            jar,
        ),
    ];
    for (name, variable, user_args) in channels {
        let env: Vec<(&str, &str)> = variable.into_iter().collect();
        let mut command = jwrap_in(false, &root, &[], &env);
        command
            .current_dir(dir.path())
            .arg("--")
            .arg(&java)
            .args(user_args);
        let (args, tool_options) = printed(&run(&mut command));
        let heap_args = args.iter().filter(|a| a.starts_with("-Xmx")).count();
        let expected = usize::from(name == "argv");
        assert_eq!(heap_args, expected, "{name}: {args:?}");
        assert!(
            !tool_options.contains("-Xmx") || name == "JAVA_TOOL_OPTIONS",
            "{name}: {tool_options}"
        );
        // Everything else is still sized.
        assert!(
            args.iter()
                .any(|a| a.starts_with("-XX:MaxDirectMemorySize=")),
            "{name}: {args:?}"
        );
    }
}

#[test]
fn jdk_8u181_gets_thread_counts_not_active_processor_count() {
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk8"), Some("1.8.0_181"), "exit 1");
    let root = fake_root(dir.path(), false, 2);
    let info = info_json(
        jwrap_in(true, &root, &[], &[])
            .arg("--")
            .arg(&java)
            .args(["-jar", "app.jar"]),
    );
    let jdk8_flags = flags(&info);
    assert!(
        !jdk8_flags
            .iter()
            .any(|f| f.contains("ActiveProcessorCount")),
        "{jdk8_flags:?}"
    );
    for expected in [
        "-XX:MaxRAM=1024m",
        "-XX:ParallelGCThreads=2",
        "-XX:CICompilerCount=2",
    ] {
        assert!(
            jdk8_flags.iter().any(|f| f == expected),
            "{expected} missing: {jdk8_flags:?}"
        );
    }
    assert_eq!(info["java"]["container_support"], "none");
    assert_eq!(info["java"]["blind"], true);
    // A JDK 8 does not read JDK_JAVA_OPTIONS: a heap there does not count.
    let info = info_json(
        jwrap_in(true, &root, &[], &[("JDK_JAVA_OPTIONS", "-Xmx300m")])
            .arg("--")
            .arg(&java)
            .args(["-jar", "app.jar"]),
    );
    assert!(flags(&info).iter().any(|f| f.starts_with("-Xmx")));
}

#[test]
fn a_symlinked_java_on_path_resolves_to_its_jdk() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("lib/jvm/jdk-11");
    let java = fake_jdk(&home, Some("11.0.9"), "exit 1");
    let alternatives = dir.path().join("alternatives");
    let bin = dir.path().join("bin");
    fs::create_dir_all(&alternatives).unwrap();
    fs::create_dir_all(&bin).unwrap();
    symlink(&java, alternatives.join("java")).unwrap();
    symlink(alternatives.join("java"), bin.join("java")).unwrap();
    let root = fake_root(dir.path(), true, 2);
    let info =
        info_json(jwrap_in(true, &root, &[&bin], &[]).args(["--", "java", "-jar", "app.jar"]));
    let java_info = &info["java"];
    assert_eq!(java_info["path"], bin.join("java").to_str().unwrap());
    assert_eq!(
        java_info["home"],
        home.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(java_info["version"], "11.0.9");
    assert_eq!(java_info["found_by"], "command");
    // 11.0.9 knows only cgroup v1, and this root is v2.
    assert_eq!(java_info["container_support"], "cgroup v1");
    assert_eq!(java_info["blind"], true);
    assert!(
        flags(&info)
            .iter()
            .any(|f| f == "-XX:ActiveProcessorCount=2"),
        "{info:#}"
    );
}

#[test]
fn info_shows_the_java_object_and_the_final_command() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    let java = fake_jdk(&home, Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let info = info_json(jwrap_in(true, &root, &[&home.join("bin")], &[]).args([
        "--memory-limit",
        "2g",
        "--",
        "java",
        "-jar",
        "app.jar",
    ]));
    let java_info = &info["java"];
    for key in [
        "path",
        "home",
        "version",
        "container_support",
        "blind",
        "why",
        "heap_budget",
    ] {
        assert!(
            !java_info[key].is_null(),
            "java.{key} missing: {java_info:#}"
        );
    }
    assert_eq!(
        java_info["resolved"],
        java.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(java_info["container_support"], "cgroup v1 and v2");
    assert_eq!(java_info["blind"], false);
    assert_eq!(java_info["heap_budget"]["limit_mib"], 2048);
    let flags = flags(&info);
    let heap = format!("-Xmx{}m", java_info["heap_budget"]["heap_mib"]);
    assert!(flags.contains(&heap), "{flags:?}");
    // --memory-limit 2g is not what the JVM reads (1 GiB): it is told.
    assert!(flags.contains(&"-XX:MaxRAM=2048m".to_string()), "{flags:?}");
    let argv: Vec<&str> = info["command"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "java");
    assert_eq!(
        argv[1..=flags.len()],
        flags.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert_eq!(argv[flags.len() + 1..], ["-jar", "app.jar"]);
    let reasons = info["command"]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().starts_with(&format!(
                "heap {} MiB",
                java_info["heap_budget"]["heap_mib"]
            )) && r.as_str().unwrap().contains("limit 2048 − metaspace")),
        "{reasons:#?}"
    );

    let table = run(jwrap()
        .env("PATH", home.join("bin"))
        .args(["info", "--root"])
        .arg(&root)
        .args(["--", "java", "-jar", "app.jar"]));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("java version") && table.contains("17.0.15"),
        "{table}"
    );
    assert!(
        table.contains("jvm flags") && table.contains("-Xmx"),
        "{table}"
    );
}

#[test]
fn without_a_release_file_the_version_comes_from_java_dash_version() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    let java = fake_jdk(
        &home,
        None,
        "printf 'openjdk version \"11.0.9\" 2020-10-20\\nOpenJDK Runtime Environment (build 11.0.9+11)\\n' >&2",
    );
    let root = fake_root(dir.path(), true, 2);
    let info = info_json(
        jwrap_in(true, &root, &[], &[])
            .arg("--")
            .arg(&java)
            .arg("Main"),
    );
    assert!(home.join("bin/asked-for-version").exists());
    assert_eq!(info["java"]["version"], "11.0.9");
    assert_eq!(info["java"]["version_source"], "java -version");
    assert_eq!(info["java"]["runtime_version"], "11.0.9+11");
    assert_eq!(info["java"]["blind"], true);
}

#[test]
fn a_jdk8_in_its_jre_layout_is_found_by_its_root() {
    let dir = TempDir::new().unwrap();
    let jdk = dir.path().join("jdk8");
    write(&jdk.join("release"), "JAVA_VERSION=\"1.8.0_362\"\n");
    let java = jdk.join("jre/bin/java");
    write_executable(&java, &java_script("exit 1"));
    let root = fake_root(dir.path(), false, 2);
    let info = info_json(
        jwrap_in(true, &root, &[], &[])
            .arg("--")
            .arg(&java)
            .arg("Main"),
    );
    assert_eq!(
        info["java"]["home"],
        jdk.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(info["java"]["version"], "1.8.0_362");
    assert_eq!(info["java"]["container_support"], "cgroup v1");
}

#[test]
fn a_hanging_java_dash_version_is_given_up_on() {
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk"), None, "exec /bin/sleep 30");
    let root = fake_root(dir.path(), true, 2);
    let started = Instant::now();
    let info = info_json(
        jwrap_in(true, &root, &[], &[])
            .arg("--")
            .arg(&java)
            .arg("Main"),
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(info["java"]["version"].is_null());
    assert!(
        info["java"]["version_source"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{info:#}"
    );
    // Unknown version: sized as the oldest JDK, with flags every JDK accepts.
    let flags = flags(&info);
    assert!(flags.iter().any(|f| f.starts_with("-Xmx")), "{flags:?}");
    assert!(
        !flags
            .iter()
            .any(|f| f.contains("ActiveProcessorCount") || f.contains("Metaspace")),
        "{flags:?}"
    );
}

#[test]
fn another_command_without_a_jdk_gets_nothing() {
    let dir = TempDir::new().unwrap();
    let root = fake_root(dir.path(), true, 2);
    let info = info_json(
        jwrap_in(true, &root, &[], &[("JWRAP_RUNTIME_ENV", "off")])
            .args(["--", "/bin/sh", "-c", "true"]),
    );
    assert!(info["java"].is_null(), "{info:#}");
    assert!(flags(&info).is_empty());
    assert!(info["command"]["env"].as_array().unwrap().is_empty());
    assert_eq!(info["command"]["argv"][0], "/bin/sh");
}

/// Every JDK installed here starts with the flags jwrap gives it, whether it sees the container
/// or is made blind (`-XX:-UseContainerSupport`), and applies them.
#[test]
fn real_jdks_accept_and_apply_every_flag() {
    let mut javas: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir("/usr/lib/jvm").into_iter().flatten().flatten() {
        if let Ok(java) = entry.path().join("bin/java").canonicalize() {
            if !javas.contains(&java) {
                javas.push(java);
            }
        }
    }
    if javas.is_empty() {
        crate::skip!("no JDK under /usr/lib/jvm");
    }
    for java in &javas {
        for user in [&[][..], &["-XX:-UseContainerSupport"]] {
            let limits = ["--memory-limit", "256m", "--cpus", "1"];
            let info = info_json(
                jwrap()
                    .args(["info", "--json"])
                    .args(limits)
                    .arg("--")
                    .arg(java)
                    .args(user)
                    .arg("-version"),
            );
            let flags = flags(&info);
            let heap_mib: u64 = flags
                .iter()
                .find_map(|f| f.strip_prefix("-Xmx")?.strip_suffix('m')?.parse().ok())
                .unwrap_or_else(|| panic!("{}: no heap flag in {flags:?}", java.display()));
            let output = run(jwrap()
                .args(limits)
                .arg("--")
                .arg(java)
                .args(user)
                .args(["-XX:+PrintFlagsFinal", "-version"]));
            let printed = String::from_utf8_lossy(&output.stdout);
            let value_of = |name: &str| -> Option<u64> {
                printed
                    .lines()
                    .find(|line| line.split_whitespace().nth(1) == Some(name))
                    .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
            };
            let context = format!("{} {user:?}: {flags:?}", java.display());
            // The JVM rounds the heap up to its alignment (a few MiB at most).
            let applied = value_of("MaxHeapSize").map_or(0, |b| b >> 20);
            assert!(
                (heap_mib..heap_mib + 8).contains(&applied),
                "heap {applied} MiB: {context}"
            );
            for (flag, name) in [
                ("-XX:MaxDirectMemorySize=", "MaxDirectMemorySize"),
                ("-XX:ReservedCodeCacheSize=", "ReservedCodeCacheSize"),
                ("-XX:MaxMetaspaceSize=", "MaxMetaspaceSize"),
            ] {
                let given: Option<u64> = flags
                    .iter()
                    .find_map(|f| f.strip_prefix(flag)?.strip_suffix('m')?.parse().ok());
                assert_eq!(given, value_of(name).map(|b| b >> 20), "{name}: {context}");
            }
            if !user.is_empty() {
                assert_eq!(value_of("ActiveProcessorCount"), Some(1), "{context}");
                assert_eq!(value_of("MaxRAM"), Some(256 << 20), "{context}");
            }
        }
    }
}

#[test]
fn a_run_reads_cpu_shares_exactly_when_the_jdk_counts_them() {
    // No quota, 2048 shares on a 4-CPU host: a JDK that counts shares sees 2 CPUs.
    let dir = TempDir::new().unwrap();
    let root = fake_root(dir.path(), false, 4);
    let cg = root.join("sys/fs/cgroup/cpu,cpuacct");
    write(&cg.join("cpu.cfs_quota_us"), "-1\n");
    write(&cg.join("cpu.shares"), "2048\n");
    for version in ["11.0.10", "17.0.15"] {
        let java = fake_jdk(&dir.path().join(version), Some(version), "exit 1");
        let shown = flags(&info_json(
            jwrap_in(true, &root, &[], &[]).arg("--").arg(&java),
        ));
        let output = run(jwrap_in(false, &root, &[], &[]).arg("--").arg(&java));
        let (added, _) = printed(&output);
        assert_eq!(added, shown, "JDK {version}: the run and info disagree");
        let counts_shares = version == "11.0.10";
        assert_eq!(
            shown
                .iter()
                .any(|flag| flag.starts_with("-XX:ActiveProcessorCount=")),
            counts_shares,
            "JDK {version}: {shown:?}"
        );
    }
}
