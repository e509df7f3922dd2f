//! The variables jwrap exports for other runtimes, seen by the command itself: small scripts
//! named like each runtime (`node`, `dotnet`, `python3`, a .NET app host, an npm-style `#!`
//! script) stand first on PATH and print their environment. The limits come from a fake root
//! (`fixtures/docker-v2-cgroupns-private`: 1 GiB, 2 CPUs of a 4-CPU host) or from the options,
//! and the expected values are derived from the fixture's `expected.json`. A real Node.js in a
//! real cgroup shows that V8's heap follows jwrap's setting.

use crate::realcg::{Limits, Namespaces, RealCgroup};
use crate::skip;
use crate::util::{fixture, jwrap, jwrap_path};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

use jwrap::units::MIB;
/// A v2 container with a 1 GiB memory limit, a CPU limit of 2 and a 3-CPU cpuset on a
/// 4-CPU host.
const LIMITED: &str = "docker-v2-cgroupns-private";
/// A v2 cgroup with no memory or CPU limit.
const UNLIMITED: &str = "v2-unlimited-max";

/// Every variable this feature may set.
const RUNTIME_VARIABLES: [&str; 7] = [
    "GOMAXPROCS",
    "GOMEMLIMIT",
    "NODE_OPTIONS",
    "DOTNET_GCHeapHardLimit",
    "DOTNET_PROCESSOR_COUNT",
    "PYTHON_CPU_COUNT",
    "JWRAP_MEMORY_LIMIT_BYTES",
];

/// What a fixture's `expected.json` says about its limits.
struct Expected {
    memory: u64,
    cpu_limit: f64,
    effective_cpus: u64,
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixture(name).join("expected.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    Expected {
        memory: json["memory"]["limit_bytes"].as_u64().unwrap(),
        cpu_limit: json["cpu"]["limit"].as_f64().unwrap(),
        effective_cpus: json["cpu"]["effective"].as_u64().unwrap(),
    }
}

/// A directory of stand-ins: executables that print their environment.
fn stand_ins() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["go-app", "node", "dotnet", "python3", "MyApi", "Worker"] {
        write_executable(dir.path(), name, "#!/bin/sh\nexec env\n");
    }
    // npm is a node script: its `#!` line runs the `node` found first on PATH (the stand-in).
    write_executable(
        dir.path(),
        "npm",
        "#!/usr/bin/env node\nrequire('npm-cli')\n",
    );
    std::fs::write(
        dir.path().join("MyApi.runtimeconfig.json"),
        r#"{"runtimeOptions": {"tfm": "net8.0", "configProperties": {"System.GC.HeapHardLimitPercent": 50}}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("Worker.deps.json"), "{}").unwrap();
    dir
}

fn write_executable(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `jwrap ARGS` with the stand-ins first on PATH and `env` added.
fn jwrap_with(stand_ins: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut path = OsString::from(stand_ins.path());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut command = jwrap();
    command.env("PATH", path).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// The environment a stand-in printed, after jwrap ran it successfully.
fn printed_env(mut command: Command) -> BTreeMap<String, String> {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{command:?}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn get<'a>(env: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name).map(String::as_str)
}

#[test]
fn a_program_that_is_not_go_gets_python_and_the_scripts_pair_only() {
    let dir = stand_ins();
    let limits = expected(LIMITED);
    let root = fixture(LIMITED);
    for program in ["go-app", "python3"] {
        let args = ["--root", root.to_str().unwrap(), "--", program];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        let cpus = limits.effective_cpus.to_string();
        assert_eq!(get(&env, "PYTHON_CPU_COUNT"), Some(cpus.as_str()));
        assert_eq!(
            get(&env, "JWRAP_MEMORY_LIMIT_BYTES"),
            Some(limits.memory.to_string().as_str())
        );
        assert_eq!(
            get(&env, "JWRAP_CPUS"),
            Some(limits.cpu_limit.to_string().as_str())
        );
        // `go-app` is a shell script here: no Go executable, no Go variables.
        for other in [
            "GOMAXPROCS",
            "GOMEMLIMIT",
            "NODE_OPTIONS",
            "DOTNET_GCHeapHardLimit",
            "DOTNET_PROCESSOR_COUNT",
        ] {
            assert_eq!(get(&env, other), None, "{program}: {other}");
        }
    }
}

#[test]
fn node_gets_a_size_only_for_a_limit_it_does_not_see_or_sizes_too_large() {
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let root = root.to_str().unwrap();
    // 1 GiB in the process's own cgroup: Node.js takes half of it by itself.
    for program in ["node", "npm"] {
        let args = ["--root", root, "--", program, "start"];
        let env = printed_env(jwrap_with(
            &dir,
            &args,
            &[("NODE_OPTIONS", "--enable-source-maps")],
        ));
        assert_eq!(
            get(&env, "NODE_OPTIONS"),
            Some("--enable-source-maps"),
            "{program}"
        );
    }
    // A limit given to jwrap: Node.js cannot see it.
    for program in ["node", "npm"] {
        let args = [
            "--root",
            root,
            "--memory-limit",
            "256m",
            "--",
            program,
            "start",
        ];
        let env = printed_env(jwrap_with(
            &dir,
            &args,
            &[("NODE_OPTIONS", "--enable-source-maps")],
        ));
        assert_eq!(
            get(&env, "NODE_OPTIONS"),
            Some("--enable-source-maps --max-old-space-size=128 --max-semi-space-size=1"),
            "{program}"
        );
    }
    // A pod's limit, on a parent cgroup.
    let pod = fixture("k8s-v2-pod-limit");
    let args = ["--root", pod.to_str().unwrap(), "--", "node"];
    let env = printed_env(jwrap_with(&dir, &args, &[]));
    assert_eq!(
        get(&env, "NODE_OPTIONS"),
        Some("--max-old-space-size=512 --max-semi-space-size=4")
    );
}

#[test]
fn dotnet_and_app_hosts_get_variables_only_for_a_limit_they_cannot_see() {
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let root = root.to_str().unwrap();
    for program in ["dotnet", "Worker", "MyApi"] {
        let args = ["--root", root, "--", program, "app.dll"];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        assert_eq!(get(&env, "DOTNET_GCHeapHardLimit"), None, "{program}");
        assert_eq!(get(&env, "DOTNET_PROCESSOR_COUNT"), None, "{program}");
    }
    let heap = format!("0x{:X}", 640 * MIB / 4 * 3);
    for program in ["dotnet", "Worker"] {
        let args = [
            "--root",
            root,
            "--memory-limit",
            "640m",
            "--cpus",
            "1.5",
            "--",
            program,
        ];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        assert_eq!(
            get(&env, "DOTNET_GCHeapHardLimit"),
            Some(heap.as_str()),
            "{program}"
        );
        assert_eq!(get(&env, "DOTNET_PROCESSOR_COUNT"), Some("2"));
        assert_eq!(get(&env, "NODE_OPTIONS"), None);
    }
    // A pod's limit on a parent cgroup: .NET 8 reads only its own cgroup; 9+ (or a version
    // jwrap cannot read, as Worker's) reads the parents' too.
    write_executable(dir.path(), "OldApi", "#!/bin/sh\nexec env\n");
    std::fs::write(
        dir.path().join("OldApi.runtimeconfig.json"),
        r#"{"runtimeOptions": {"tfm": "net8.0", "framework": {"name": "Microsoft.NETCore.App", "version": "8.0.11"}}}"#,
    )
    .unwrap();
    let pod = fixture("k8s-v2-pod-limit");
    let pod_limits = expected("k8s-v2-pod-limit");
    let pod_heap = format!("0x{:X}", pod_limits.memory / 4 * 3 / MIB * MIB);
    for (program, expected_heap) in [("OldApi", Some(pod_heap.as_str())), ("Worker", None)] {
        let args = ["--root", pod.to_str().unwrap(), "--", program];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        assert_eq!(
            get(&env, "DOTNET_GCHeapHardLimit"),
            expected_heap,
            "{program}"
        );
    }
    // MyApi.runtimeconfig.json sets System.GC.HeapHardLimitPercent: the app's own choice.
    let args = [
        "--root",
        root,
        "--memory-limit",
        "640m",
        "--cpus",
        "1.5",
        "--",
        "MyApi",
    ];
    let env = printed_env(jwrap_with(&dir, &args, &[]));
    assert_eq!(get(&env, "DOTNET_GCHeapHardLimit"), None);
    assert_eq!(get(&env, "DOTNET_PROCESSOR_COUNT"), Some("2"));
}

#[test]
fn the_users_values_are_kept() {
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let users = [
        ("GOMAXPROCS", "7"),
        ("GOMEMLIMIT", ""),
        ("PYTHON_CPU_COUNT", "5"),
        ("NODE_OPTIONS", "--max-old-space-size=100"),
        ("DOTNET_GCHeapHardLimit", "0x1000000"),
        ("DOTNET_PROCESSOR_COUNT", "3"),
    ];
    for program in ["node", "dotnet"] {
        let args = ["--root", root.to_str().unwrap(), "--", program];
        let env = printed_env(jwrap_with(&dir, &args, &users));
        for (name, value) in users {
            assert_eq!(get(&env, name), Some(value), "{program}: {name}");
        }
    }
    // A NODE_OPTIONS without a heap size is appended to; a size on the command line wins.
    let args = [
        "--root",
        root.to_str().unwrap(),
        "--",
        "node",
        "--max-old-space-size=64",
        "app.js",
    ];
    let env = printed_env(jwrap_with(&dir, &args, &[("NODE_OPTIONS", "--trace-gc")]));
    assert_eq!(get(&env, "NODE_OPTIONS"), Some("--trace-gc"));
}

#[test]
fn runtime_env_off_leaves_the_environment_alone() {
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let by_option = jwrap_with(
        &dir,
        &[
            "--root",
            root.to_str().unwrap(),
            "--runtime-env",
            "off",
            "--",
            "node",
        ],
        &[],
    );
    let by_variable = jwrap_with(
        &dir,
        &["--root", root.to_str().unwrap(), "--", "node"],
        &[("JWRAP_RUNTIME_ENV", "0")],
    );
    for command in [by_option, by_variable] {
        let env = printed_env(command);
        for name in RUNTIME_VARIABLES.iter().chain(&["JWRAP_CPUS"]) {
            assert_eq!(get(&env, name), None, "{name}");
        }
    }
}

#[test]
fn no_limit_no_variables() {
    let dir = stand_ins();
    let root = fixture(UNLIMITED);
    for program in ["go-app", "node", "dotnet"] {
        let args = ["--root", root.to_str().unwrap(), "--", program];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        for name in RUNTIME_VARIABLES.iter().chain(&["JWRAP_CPUS"]) {
            assert_eq!(get(&env, name), None, "{program}: {name}");
        }
    }
}

/// `jwrap info --json ARGS` with the stand-ins first on PATH.
fn info(dir: &TempDir, args: &[&str]) -> Value {
    let mut all = vec!["info", "--json"];
    all.extend_from_slice(args);
    let output = jwrap_with(dir, &all, &[]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn env_names(info: &Value) -> Vec<String> {
    info["command"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn overrides_size_the_runtimes_and_a_nested_jwrap_sees_the_same_cpu_limit() {
    let dir = stand_ins();
    let host_cpus = info(&dir, &[])["host"]["cpus"].as_u64().unwrap();
    let args = ["--memory-limit", "512m", "--cpus", "0.5", "--", "python3"];
    let env = printed_env(jwrap_with(&dir, &args, &[]));
    assert_eq!(get(&env, "JWRAP_MEMORY_LIMIT_BYTES"), Some("536870912"));
    assert_eq!(get(&env, "JWRAP_CPUS"), Some("0.5"));
    // Half a CPU is one CPU to plan for; on a one-CPU host that is what Python counts anyway.
    let expected_cpus = (host_cpus > 1).then_some("1");
    assert_eq!(get(&env, "PYTHON_CPU_COUNT"), expected_cpus);

    let jwrap_binary = jwrap_path();
    let nested = jwrap_with(
        &dir,
        &[
            "--cpus",
            "0.5",
            "--",
            jwrap_binary.to_str().unwrap(),
            "info",
            "--json",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(nested.status.success(), "{nested:?}");
    let inner: Value = serde_json::from_slice(&nested.stdout).unwrap();
    assert_eq!(inner["cpu"]["limit"], 0.5);
    assert_eq!(inner["cpu"]["source"], "JWRAP_CPUS");
    assert_eq!(inner["cpu"]["effective"], 1);
}

#[test]
fn info_says_which_runtime_got_what_and_why() {
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let node = info(
        &dir,
        &["--root", root.to_str().unwrap(), "--", "node", "app.js"],
    );
    let names = env_names(&node);
    assert!(names.iter().any(|n| n == "PYTHON_CPU_COUNT"), "{names:?}");
    for name in ["GOMAXPROCS", "GOMEMLIMIT", "NODE_OPTIONS"] {
        assert!(names.iter().all(|n| n != name), "{name} in {names:?}");
    }
    let reasons: Vec<&str> = node["command"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for start in [
        "Node.js (COMMAND is node): NODE_OPTIONS left alone: Node.js reads the 1 GiB limit \
         (from /sys/fs/cgroup/memory.max) itself and gives V8's old space half of it (512 MiB)",
        "Python: PYTHON_CPU_COUNT=2: ",
        "scripts: JWRAP_MEMORY_LIMIT_BYTES=1073741824: ",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(start)),
            "{start:?} in {reasons:#?}"
        );
    }
    // A java command is sized by its flags: only jwrap's own pair is added to its environment.
    let java = info(
        &dir,
        &["--root", root.to_str().unwrap(), "--", "java", "-version"],
    );
    let names = env_names(&java);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("JWRAP_") || n == "JAVA_TOOL_OPTIONS"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "JWRAP_MEMORY_LIMIT_BYTES"));
}

/// Objects (or, with `buffers`, first a quarter of the limit in Buffers, then objects) kept
/// until the process dies: as scripts/bench-node.sh.
const NODE_LOAD: &str = r"const kind = process.argv[1];
const keep = [];
if (kind === 'buffers') {
  for (let i = 0; i < Number(process.argv[2]) / 4 * 16; i++) keep.push(Buffer.alloc(65536, i & 0xff));
}
console.log('heap_size_limit=' + v8.getHeapStatistics().heap_size_limit);
for (let n = 0; ; n++) keep.push({ i: n, s: 'x' + n, a: [n, n + 1] });";

/// How a Node.js run under a memory limit ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// V8's own "JavaScript heap out of memory" (abort, exit 134): a clear message.
    HeapOutOfMemory,
    /// The kernel's OOM killer (SIGKILL, 137 through a shell or jwrap): nothing said.
    KernelKill,
    Other(String),
}

/// Run a Node.js command to its end; its heap limit in MiB and how it ended.
fn node_run(mut command: Command) -> (u64, End) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let limit = stdout
        .lines()
        .find_map(|line| line.strip_prefix("heap_size_limit="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / MIB;
    let end = match output.status.code() {
        Some(134) if stderr.contains("heap out of memory") => End::HeapOutOfMemory,
        Some(137) => End::KernelKill,
        None if std::os::unix::process::ExitStatusExt::signal(&output.status) == Some(9) => {
            End::KernelKill
        }
        _ if stderr.contains("heap out of memory") => End::HeapOutOfMemory,
        _ => End::Other(format!("{:?}: {}", output.status, stderr)),
    };
    (limit, end)
}

/// Node.js 20 in real 128 MiB cgroups (the limit on its own group, then on a parent only),
/// with an object-heavy and a Buffer-heavy load that grow until they die: by itself Node.js
/// gives V8 at least 256 MiB and is killed by the kernel; under jwrap V8 stops at its heap
/// limit with its own message, never a kill. (BENCHMARKS.md has 128, 256 and 512 MiB.)
#[test]
fn a_real_node_is_never_killed_under_jwrap_where_it_would_not_be_by_itself() {
    if Command::new("node").arg("--version").output().is_err() {
        skip!("no node on PATH");
    }
    let limit = 128 * MIB;
    let limits = Limits {
        memory_bytes: Some(limit),
        ..Limits::default()
    };
    let own = match RealCgroup::create("node-own", limits.clone()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let parent = RealCgroup::create("node-parent", limits).unwrap();
    let leaf = parent.child("leaf", Limits::default()).unwrap();
    let in_group =
        |group: &RealCgroup, program: &Path, args: &[&str]| group.clean_command(program, args);
    let mib = (limit / MIB).to_string();
    let node = Path::new("node");
    // (The Buffer-heavy load on a parent only is in BENCHMARKS.md: it ends as this one.)
    for (level, group, load) in [
        ("own", &own, "objects"),
        ("own", &own, "buffers"),
        ("parent", &leaf, "objects"),
    ] {
        {
            let args = ["-e", NODE_LOAD, load, mib.as_str()];
            let (alone_heap, alone) = node_run(in_group(group, node, &args));
            let mut wrapped = vec!["--", "node"];
            wrapped.extend_from_slice(&args);
            let (jwrap_heap, under) = node_run(in_group(group, &jwrap_path(), &wrapped));
            eprintln!(
                "node, {load}, 128 MiB on the {level} group: by itself heap limit {alone_heap} \
                 MiB, {alone:?}; under jwrap {jwrap_heap} MiB, {under:?}"
            );
            // By itself V8's heap limit is above the memory limit: the kernel kills it.
            assert!(alone_heap >= limit / MIB, "{alone_heap}");
            assert_eq!(alone, End::KernelKill, "{load} {level}");
            // Under jwrap: half the limit for the old space, and V8's own end.
            assert!(jwrap_heap < limit / MIB * 6 / 10, "{jwrap_heap}");
            assert_eq!(under, End::HeapOutOfMemory, "{load} {level}");
        }
    }
}

/// V8's heap limit in MiB, as `node` reports it, run by `command`.
fn heap_size_limit_mib(mut command: Command) -> u64 {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse::<u64>().unwrap() / MIB
}

#[test]
fn a_real_node_keeps_its_own_heap_where_it_sizes_it_well() {
    if Command::new("node").arg("--version").output().is_err() {
        skip!("no node on PATH");
    }
    let limit = 1024 * MIB;
    let group = match RealCgroup::create(
        "node-heap",
        Limits {
            memory_bytes: Some(limit),
            ..Limits::default()
        },
    ) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let script = "console.log(v8.getHeapStatistics().heap_size_limit)";
    let clean = jwrap();
    let in_group = |program: &Path, args: &[&str]| {
        let mut command = group.command(Namespaces::Host, program, args);
        for (name, value) in clean.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    };
    let by_itself = heap_size_limit_mib(in_group(Path::new("node"), &["-e", script]));
    let under_jwrap = heap_size_limit_mib(in_group(&jwrap_path(), &["--", "node", "-e", script]));
    eprintln!(
        "node heap_size_limit in a 1 GiB cgroup: {by_itself} MiB by itself, {under_jwrap} MiB under jwrap"
    );
    // Node.js takes half of a 1 GiB limit it sees; jwrap leaves it so.
    assert_eq!(under_jwrap, by_itself);
    assert!(
        by_itself >= limit / MIB / 2 && by_itself < limit / MIB * 6 / 10,
        "{by_itself}"
    );
}

/// A byte that is not UTF-8 in `NODE_OPTIONS`: the variable is neither taken for unset nor
/// replaced; jwrap's words are appended to the user's bytes, and a size among them is kept.
#[test]
fn node_options_that_are_not_utf8_are_kept_and_appended_to() {
    use std::os::unix::ffi::OsStringExt;
    let dir = stand_ins();
    let root = fixture(LIMITED);
    let run = |value: &[u8]| -> Vec<u8> {
        let mut command = jwrap_with(
            &dir,
            &[
                "--root",
                root.to_str().unwrap(),
                "--memory-limit",
                "256m",
                "--",
                "node",
            ],
            &[],
        );
        command.env("NODE_OPTIONS", OsString::from_vec(value.to_vec()));
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        output
            .stdout
            .split(|b| *b == b'\n')
            .find_map(|line| line.strip_prefix(b"NODE_OPTIONS=".as_slice()))
            .unwrap()
            .to_vec()
    };
    let user = b"--title=caf\xe9 --trace-warnings";
    let mut expected = user.to_vec();
    expected.extend_from_slice(b" --max-old-space-size=128 --max-semi-space-size=1");
    assert_eq!(run(user), expected);
    let sized = b"--title=caf\xe9 --max-old-space-size=64";
    assert_eq!(run(sized), sized);
}
