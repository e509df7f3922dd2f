//! Detection against the fake roots in `fixtures/`: one test per directory, each running the real
//! binary (`jwrap info --json --root DIR`) and comparing its answer with the hand-derived
//! `expected.json` (a partial object; see `fixtures/README.md`), then checking that the table
//! (`jwrap info --root DIR`) runs too and names where the memory limit came from.

use crate::util::{fixture, is_root, jwrap};
use serde_json::{Map, Number, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One `#[test]` per fixture directory, plus the list the completeness test checks.
macro_rules! fixture_tests {
    ($($test:ident: $dir:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_fixture($dir);
            }
        )*

        /// (test name, fixture directory)
        const FIXTURE_TESTS: &[(&str, &str)] = &[$((stringify!($test), $dir)),*];
    };
}

fixture_tests! {
    automaxprocs_v1_docker_root_prefix: "automaxprocs-v1-docker-root-prefix",
    automaxprocs_v1_untranslatable: "automaxprocs-v1-untranslatable",
    automaxprocs_v2_no_zero_hierarchy: "automaxprocs-v2-no-zero-hierarchy",
    automaxprocs_v2_root: "automaxprocs-v2-root",
    automaxprocs_v2_subdir: "automaxprocs-v2-subdir",
    docker_desktop_wsl2_v2: "docker-desktop-wsl2-v2",
    docker_in_docker_v1: "docker-in-docker-v1",
    docker_in_docker_v2_init: "docker-in-docker-v2-init",
    docker_v1_cgroup_parent_with_space: "docker-v1-cgroup-parent-with-space",
    docker_v1_cgroupns_host: "docker-v1-cgroupns-host",
    docker_v1_host_cgroup_bind_mount: "docker-v1-host-cgroup-bind-mount",
    docker_v1_systemd_driver_cpuset_cpus: "docker-v1-systemd-driver-cpuset-cpus",
    docker_v2_cgroupns_host: "docker-v2-cgroupns-host",
    docker_v2_cgroupns_private: "docker-v2-cgroupns-private",
    docker_v2_limit_above_host: "docker-v2-limit-above-host",
    garbage_host_files_v1: "garbage-host-files-v1",
    garbage_values_v2: "garbage-values-v2",
    host_v1_hybrid_unlimited: "host-v1-hybrid-unlimited",
    hybrid_host_cgroup2_line_last: "hybrid-host-cgroup2-line-last",
    hybrid_host_v1_wins: "hybrid-host-v1-wins",
    hybrid_memory_not_mounted: "hybrid-memory-not-mounted",
    k8s_v1_containerd_colon_in_path: "k8s-v1-containerd-colon-in-path",
    k8s_v1_pod_limit: "k8s-v1-pod-limit",
    k8s_v2_pod_limit: "k8s-v2-pod-limit",
    k8s_v2_requests_only: "k8s-v2-requests-only",
    lxc_v2_lxcfs: "lxc-v2-lxcfs",
    lxc_v2_systemd: "lxc-v2-systemd",
    missing_limit_files_v1: "missing-limit-files-v1",
    missing_limit_files_v2: "missing-limit-files-v2",
    no_cgroup_mounts: "no-cgroup-mounts",
    no_cgroup_mounts_empty_mountinfo: "no-cgroup-mounts-empty-mountinfo",
    podman_rootless_v2: "podman-rootless-v2",
    systemd_service_v1: "systemd-service-v1",
    systemd_service_v2: "systemd-service-v2",
    v1_cpu_controller_only: "v1-cpu-controller-only",
    v1_duplicate_cpuset_mount: "v1-duplicate-cpuset-mount",
    v1_duplicate_memory_mount: "v1-duplicate-memory-mount",
    v1_garden_outside_root: "v1-garden-outside-root",
    v1_join_controllers: "v1-join-controllers",
    v1_systemd_only: "v1-systemd-only",
    v1_unlimited_64k_pages: "v1-unlimited-64k-pages",
    v2_double_mount_dotdot_root: "v2-double-mount-dotdot-root",
    v2_memory_not_delegated: "v2-memory-not-delegated",
    v2_moved_process_dotdot: "v2-moved-process-dotdot",
    v2_unlimited_max: "v2-unlimited-max",
    v2_with_v1_freezer: "v2-with-v1-freezer",
    k8s_v2_ancestor_memory_max_missing: "k8s-v2-ancestor-memory-max-missing",
    k8s_v2_memory_qos: "k8s-v2-memory-qos",
    kernel_no_v1_memory_v2: "kernel-no-v1-memory-v2",
    kernel_no_v1_cpuset_v2: "kernel-no-v1-cpuset-v2",
    v1_unreadable_ancestor_level: "v1-unreadable-ancestor-level",
    v2_cpu_max_one_field: "v2-cpu-max-one-field",
    v2_garbage_ancestor_level: "v2-garbage-ancestor-level",
    v2_memory_high_below_max: "v2-memory-high-below-max",
    v2_mount_point_missing: "v2-mount-point-missing",
}

/// Keys of `expected.json` that are checks on the `warnings` array, not output keys.
const WARNINGS_COUNT: &str = "warnings_count";
const WARNINGS_MENTION: &str = "warnings_mention";

/// The keys every `expected.json` must pin down: the ones doc/contract.md lets tools rely on.
const REQUIRED_KEYS: [(&str, &str); 7] = [
    ("cgroup", "version"),
    ("memory", "limit_bytes"),
    ("memory", "source"),
    ("cpu", "limit"),
    ("cpu", "effective"),
    ("host", "memory_bytes"),
    ("host", "cpus"),
];

fn check_fixture(name: &str) {
    let root = fixture(name);
    let expected = read_json(&root.join("expected.json"));
    let actual = info_json(&root);
    let problems = compare_with_expected(&expected, &actual);
    assert!(
        problems.is_empty(),
        "fixture {name}:\n  {}\nactual output:\n{}",
        problems.join("\n  "),
        pretty(&actual)
    );
    check_table(&root, &expected);
}

/// `jwrap info --json --root DIR`, which must succeed.
fn info_json(root: &Path) -> Value {
    let output = jwrap()
        .args(["info", "--json", "--root"])
        .arg(root)
        .output()
        .expect("run jwrap");
    assert_eq!(
        output.status.code(),
        Some(0),
        "jwrap info --json --root {}: {}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("jwrap info --json prints JSON")
}

/// The table runs with exit code 0 and its memory row names the file (or option) the limit came
/// from; with no source, it says what the state is.
fn check_table(root: &Path, expected: &Value) {
    let output = jwrap()
        .args(["info", "--root"])
        .arg(root)
        .output()
        .expect("run jwrap");
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "jwrap info: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let memory_row = table
        .lines()
        .find(|line| line.starts_with("memory limit"))
        .unwrap_or_else(|| panic!("no memory limit row in:\n{table}"));
    let wanted = match &expected["memory"]["source"] {
        Value::String(source) => source.clone(),
        _ => expected["memory"]["state"]
            .as_str()
            .expect("expected.json: memory.state is needed when memory.source is null")
            .to_string(),
    };
    assert!(
        memory_row.contains(&wanted),
        "memory row {memory_row:?} does not name {wanted:?}"
    );
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Everything in `expected` that `actual` does not match, one line each.
fn compare_with_expected(expected: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut output_keys = expected.as_object().cloned().unwrap_or_default();
    let count = output_keys.remove(WARNINGS_COUNT);
    let mentions = output_keys.remove(WARNINGS_MENTION);
    subset_mismatches(&Value::Object(output_keys), actual, "", &mut problems);

    let warnings: Vec<&str> = actual["warnings"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(count) = count.as_ref().and_then(Value::as_u64) {
        if warnings.len() as u64 != count {
            problems.push(format!("{count} warnings expected, got {warnings:?}"));
        }
    }
    for mention in mentions
        .iter()
        .flat_map(|m| m.as_array().cloned().unwrap_or_default())
    {
        let text = mention.as_str().unwrap_or_default();
        let hits = warnings.iter().filter(|w| w.contains(text)).count();
        if hits != 1 {
            problems.push(format!(
                "{text:?} should be in exactly one warning, is in {hits}: {warnings:?}"
            ));
        }
    }
    problems
}

/// Every key of `expected` must be in `actual` with an equal value (objects recursively; arrays
/// element by element; numbers by value, so `2.0` matches `2`).
fn subset_mismatches(expected: &Value, actual: &Value, at: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let path = format!("{at}.{key}");
                match got.get(key) {
                    Some(got_value) => subset_mismatches(value, got_value, &path, problems),
                    None => problems.push(format!("{path}: missing")),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                subset_mismatches(w, g, &format!("{at}[{index}]"), problems);
            }
        }
        (Value::Number(want), Value::Number(got)) if same_number(want, got) => {}
        _ if expected == actual => {}
        _ => problems.push(format!("{at}: expected {expected}, got {actual}")),
    }
}

fn same_number(a: &Number, b: &Number) -> bool {
    match (a.as_u64(), b.as_u64(), a.as_i64(), b.as_i64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

#[test]
fn the_subset_match_catches_differences() {
    let actual = serde_json::json!({
        "memory": { "limit_bytes": 9_223_372_036_854_771_712_u64, "source": "/a" },
        "cpu": { "limit": 2.0 },
        "warnings": ["/x: bad", "/y: bad"],
    });
    let matching = serde_json::json!({
        "memory": { "limit_bytes": 9_223_372_036_854_771_712_u64 },
        "cpu": { "limit": 2 },
        "warnings_count": 2,
        "warnings_mention": ["/x"],
    });
    assert!(compare_with_expected(&matching, &actual).is_empty());
    for wrong in [
        serde_json::json!({ "memory": { "limit_bytes": 9_223_372_036_854_771_711_u64 } }),
        serde_json::json!({ "memory": { "source": null } }),
        serde_json::json!({ "memory": { "missing": 1 } }),
        serde_json::json!({ "cpu": { "limit": 2.5 } }),
        serde_json::json!({ "warnings_count": 1 }),
        serde_json::json!({ "warnings_mention": [": bad"] }),
        serde_json::json!({ "warnings_mention": ["/z"] }),
    ] {
        assert!(
            !compare_with_expected(&wrong, &actual).is_empty(),
            "{wrong} matched"
        );
    }
}

fn fixture_dirs() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixture(""))
        .expect("fixtures/")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_has_a_test_and_a_readme_line() {
    let readme = fs::read_to_string(fixture("README.md")).expect("fixtures/README.md");
    let dirs = fixture_dirs();
    for dir in &dirs {
        assert!(
            FIXTURE_TESTS.iter().any(|(_, tested)| tested == dir),
            "fixtures/{dir} has no test: add it to fixture_tests! in tests/detect.rs"
        );
        assert!(
            readme.contains(&format!("| `{dir}` |")),
            "fixtures/README.md has no line for {dir}"
        );
    }
    for (test, dir) in FIXTURE_TESTS {
        assert!(
            dirs.iter().any(|d| d == dir),
            "test {test}: no fixtures/{dir}"
        );
        assert_eq!(
            *test,
            dir.replace('-', "_"),
            "the test of fixtures/{dir} must be named after it"
        );
    }
}

#[test]
fn every_expected_json_pins_the_keys_tools_rely_on() {
    for dir in fixture_dirs() {
        let expected = read_json(&fixture(&dir).join("expected.json"));
        for (section, key) in REQUIRED_KEYS {
            assert!(
                expected.get(section).and_then(|s| s.get(key)).is_some(),
                "fixtures/{dir}/expected.json lacks {section}.{key}"
            );
        }
        assert!(
            expected.get(WARNINGS_COUNT).is_some(),
            "fixtures/{dir}/expected.json lacks {WARNINGS_COUNT}"
        );
    }
}

/// A copy of a fixture that a test may change.
pub(crate) fn copy_of_fixture(name: &str) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temporary directory");
    copy_tree(&fixture(name), copy.path());
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&target).expect("create directory");
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn section<'a>(value: &'a Value, name: &str) -> &'a Map<String, Value> {
    value[name]
        .as_object()
        .unwrap_or_else(|| panic!("no {name} object in {value}"))
}

/// The file at `path` (as the process sees it) cannot be read: its value is unknown, exactly one
/// warning names the file, and `info` still succeeds.
fn assert_unreadable_file_is_reported(root: &Path, path: &str, section_name: &str) {
    let actual = info_json(root);
    let values = section(&actual, section_name);
    assert_eq!(
        values["state"],
        "unknown",
        "{section_name} in {}",
        pretty(&actual)
    );
    assert_eq!(values["source"], Value::Null);
    let warnings: Vec<&str> = actual["warnings"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let naming: Vec<&&str> = warnings.iter().filter(|w| w.contains(path)).collect();
    assert_eq!(
        naming.len(),
        1,
        "one warning should name {path}: {warnings:?}"
    );
}

#[test]
fn a_limit_file_without_read_permission_is_unknown_with_one_warning() {
    if is_root() {
        crate::skip!("root reads files whatever their mode");
    }
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    let file: PathBuf = copy.path().join("sys/fs/cgroup/memory.max");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    assert_unreadable_file_is_reported(copy.path(), "/sys/fs/cgroup/memory.max", "memory");
}

#[test]
fn a_directory_in_place_of_a_limit_file_is_unknown_with_one_warning() {
    // Reading a directory fails even for root, so this runs everywhere.
    let copy = copy_of_fixture("docker-v1-cgroupns-host");
    let file = copy
        .path()
        .join("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us");
    fs::remove_file(&file).expect("remove cpu.cfs_quota_us");
    fs::create_dir(&file).expect("directory in its place");
    assert_unreadable_file_is_reported(
        copy.path(),
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
        "cpu",
    );
    // The memory limit beside it is still read.
    assert_eq!(info_json(copy.path())["memory"]["limit_bytes"], 536_870_912);
}

#[test]
fn an_unreadable_mountinfo_leaves_every_limit_unknown_with_one_warning() {
    let copy = copy_of_fixture("docker-v2-cgroupns-private");
    let mountinfo = copy.path().join("proc/self/mountinfo");
    fs::remove_file(&mountinfo).expect("remove mountinfo");
    fs::create_dir(&mountinfo).expect("directory in its place");
    let actual = info_json(copy.path());
    assert_eq!(actual["cgroup"]["version"], Value::Null);
    assert_eq!(actual["memory"]["state"], "unknown");
    assert_eq!(actual["cpu"]["state"], "unknown");
    let warnings = actual["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|w| w.contains("/proc/self/mountinfo")),
        "{warnings:?}"
    );
}

/// A JDK home whose `release` says `version`; its `java` is never run (`info` reads the release
/// file), so it only exits.
fn fake_jdk(dir: &Path, version: &str) -> PathBuf {
    let home = dir.join(format!("jdk-{version}"));
    fs::create_dir_all(home.join("bin")).expect("jdk dir");
    fs::write(
        home.join("release"),
        format!("IMPLEMENTOR=\"Test Vendor\"\nJAVA_VERSION=\"{version}\"\n"),
    )
    .expect("release");
    let java = home.join("bin/java");
    fs::write(&java, "#!/bin/sh\nexit 0\n").expect("java");
    fs::set_permissions(&java, fs::Permissions::from_mode(0o755)).expect("chmod");
    java
}

/// `jwrap info --json --root ROOT -- JAVA -jar app.jar`.
fn java_info(root: &Path, java: &Path) -> Value {
    let output = jwrap()
        .args(["info", "--json", "--root"])
        .arg(root)
        .arg("--")
        .arg(java)
        .args(["-jar", "app.jar"])
        .output()
        .expect("run jwrap");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn flags_of(info: &Value) -> Vec<String> {
    info["jvm_flags"]
        .as_array()
        .map(|flags| {
            flags
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What a JDK sees by itself on the kernel fixtures, derived by hand from the files it reads
/// (see fixtures/README.md): blind JDKs get the limit as flags, seeing ones do not.
#[test]
fn the_jdks_own_detection_on_kernels_without_v1_controllers() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        // (fixture, JDK version, blind, the limit as MaxRAM)
        (
            "kernel-no-v1-memory-v2",
            "21.0.11",
            true,
            "-XX:MaxRAM=1024m",
        ),
        (
            "kernel-no-v1-memory-v2",
            "17.0.18",
            true,
            "-XX:MaxRAM=1024m",
        ),
        (
            "kernel-no-v1-memory-v2",
            "1.8.0_482",
            true,
            "-XX:MaxRAM=1024m",
        ),
        ("kernel-no-v1-memory-v2", "21.0.12", false, ""),
        ("kernel-no-v1-memory-v2", "1.8.0_502", false, ""),
        ("kernel-no-v1-memory-v2", "25", false, ""),
        ("kernel-no-v1-cpuset-v2", "24", true, "-XX:MaxRAM=768m"),
        ("kernel-no-v1-cpuset-v2", "21.0.11", true, "-XX:MaxRAM=768m"),
        ("kernel-no-v1-cpuset-v2", "21.0.12", false, ""),
        ("kernel-no-v1-cpuset-v2", "25", false, ""),
    ];
    for (name, version, blind, max_ram) in cases {
        let info = java_info(&fixture(name), &fake_jdk(dir.path(), version));
        let java = &info["java"];
        assert_eq!(java["blind"], blind, "{name} {version}: {java}");
        let why = java["why"].as_str().unwrap_or_default();
        let flags = flags_of(&info);
        if blind {
            assert!(
                why.contains("/proc/cgroups has no enabled"),
                "{version}: {why}"
            );
            assert!(java["sees_memory_bytes"].is_null(), "{java}");
            assert!(flags.iter().any(|f| f == max_ram), "{version}: {flags:?}");
        } else {
            assert!(why.contains("it sees the container"), "{version}: {why}");
            assert!(
                !flags.iter().any(|f| f.starts_with("-XX:MaxRAM")),
                "{version}: {flags:?}"
            );
        }
    }
    // Without /proc/cgroups in the root there is no evidence: the JDK is taken to see.
    let info = java_info(
        &fixture("docker-v2-cgroupns-private"),
        &fake_jdk(dir.path(), "21.0.11"),
    );
    assert_eq!(info["java"]["blind"], false);
}

#[test]
fn memory_high_below_max_sizes_the_heap() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let java = fake_jdk(dir.path(), "21.0.8");
    let high = java_info(&fixture("v2-memory-high-below-max"), &java);
    let heap = |info: &Value| info["java"]["heap_budget"]["limit_mib"].as_u64();
    assert_eq!(heap(&high), Some(512), "{}", high["java"]);
    let qos = java_info(&fixture("k8s-v2-memory-qos"), &java);
    assert_eq!(heap(&qos), Some(1020051456 / (1 << 20)), "{}", qos["java"]);
    // The JVM sees memory.max (1 GiB), not memory.high: it is told the lower size.
    assert!(
        flags_of(&high).iter().any(|f| f == "-XX:MaxRAM=512m"),
        "{:?}",
        flags_of(&high)
    );
}

#[test]
fn an_unknown_cpu_count_invents_no_cpu_flag() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let empty = dir.path().join("empty-root");
    fs::create_dir_all(&empty).expect("empty root");
    for version in ["1.8.0_181", "11.0.9", "17", "25", "26"] {
        let info = java_info(&empty, &fake_jdk(dir.path(), version));
        assert!(info["host"]["cpus"].is_null());
        let flags = flags_of(&info);
        assert!(
            !flags.iter().any(|f| f.contains("ActiveProcessorCount")
                || f.contains("GCThreads")
                || f.contains("CICompilerCount")
                || f.contains("parallelism")),
            "{version}: {flags:?}"
        );
    }
}

#[test]
fn an_unreadable_ancestor_keeps_the_levels_read_for_non_root_modes_too() {
    if is_root() {
        crate::skip!("root reads files whatever their mode");
    }
    let copy = copy_of_fixture("k8s-v2-pod-limit");
    let kubepods = copy.path().join("sys/fs/cgroup/kubepods.slice/memory.max");
    fs::set_permissions(&kubepods, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    let actual = info_json(copy.path());
    assert_eq!(actual["memory"]["limit_bytes"], 1_073_741_824, "{actual}");
    let warnings = actual["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|w| w.contains("/sys/fs/cgroup/kubepods.slice/memory.max")
                && w.contains("may be lower"))
    );
}

/// Running (not `info`): the JDK's own view is modelled there too, so a JDK that reads
/// `/proc/cgroups` gets the limit as flags on a kernel without cgroup v1 memory.
#[test]
fn a_run_sizes_a_jdk_blind_on_a_kernel_without_v1_memory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (version, blind) in [("21.0.11", true), ("21.0.12", false)] {
        let java = fake_jdk(dir.path(), version);
        fs::write(
            &java,
            "#!/bin/sh\nfor arg in \"$@\"; do echo \"arg=$arg\"; done\n",
        )
        .expect("java");
        let output = jwrap()
            .arg("--root")
            .arg(fixture("kernel-no-v1-memory-v2"))
            .arg("--")
            .arg(&java)
            .arg("-version")
            .output()
            .expect("run jwrap");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(
            stdout.contains("arg=-XX:MaxRAM=1024m"),
            blind,
            "{version}: {stdout}"
        );
        assert_eq!(
            stdout.contains("arg=-XX:ActiveProcessorCount=2"),
            blind,
            "{version}: {stdout}"
        );
        assert!(stdout.contains("arg=-Xmx"), "{version}: {stdout}");
    }
}
