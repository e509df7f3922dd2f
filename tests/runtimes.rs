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

/// 90 % of the limit in whole MiB, as Go reads it.
fn go_memory_limit(limit: u64) -> String {
    format!("{}MiB", limit / 10 * 9 / MIB)
}

#[test]
fn any_command_gets_go_python_and_the_scripts_pair() {
    let dir = stand_ins();
    let limits = expected(LIMITED);
    let root = fixture(LIMITED);
    for program in ["go-app", "python3"] {
        let args = ["--root", root.to_str().unwrap(), "--", program];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        let cpus = limits.effective_cpus.to_string();
        assert_eq!(get(&env, "GOMAXPROCS"), Some(cpus.as_str()), "{program}");
        assert_eq!(
            get(&env, "GOMEMLIMIT"),
            Some(go_memory_limit(limits.memory).as_str())
        );
        assert_eq!(get(&env, "PYTHON_CPU_COUNT"), Some(cpus.as_str()));
        assert_eq!(
            get(&env, "JWRAP_MEMORY_LIMIT_BYTES"),
            Some(limits.memory.to_string().as_str())
        );
        assert_eq!(
            get(&env, "JWRAP_CPUS"),
            Some(limits.cpu_limit.to_string().as_str())
        );
        for other in [
            "NODE_OPTIONS",
            "DOTNET_GCHeapHardLimit",
            "DOTNET_PROCESSOR_COUNT",
        ] {
            assert_eq!(get(&env, other), None, "{program}: {other}");
        }
    }
}

#[test]
fn node_and_npm_get_max_old_space_size_appended_to_node_options() {
    let dir = stand_ins();
    let limits = expected(LIMITED);
    let root = fixture(LIMITED);
    let old_space = format!("--max-old-space-size={}", limits.memory / 4 * 3 / MIB);
    for program in ["node", "npm"] {
        let args = ["--root", root.to_str().unwrap(), "--", program, "start"];
        let env = printed_env(jwrap_with(
            &dir,
            &args,
            &[("NODE_OPTIONS", "--enable-source-maps")],
        ));
        assert_eq!(
            get(&env, "NODE_OPTIONS"),
            Some(format!("--enable-source-maps {old_space}").as_str()),
            "{program}"
        );
        assert!(env.contains_key("GOMEMLIMIT"));
    }
}

#[test]
fn dotnet_and_app_hosts_get_a_hexadecimal_heap_limit_unless_their_config_sets_one() {
    let dir = stand_ins();
    let limits = expected(LIMITED);
    let root = fixture(LIMITED);
    let heap = format!("0x{:X}", limits.memory / 4 * 3 / MIB * MIB);
    let cpus = limits.effective_cpus.to_string();
    for program in ["dotnet", "Worker"] {
        let args = ["--root", root.to_str().unwrap(), "--", program, "app.dll"];
        let env = printed_env(jwrap_with(&dir, &args, &[]));
        assert_eq!(
            get(&env, "DOTNET_GCHeapHardLimit"),
            Some(heap.as_str()),
            "{program}"
        );
        assert_eq!(get(&env, "DOTNET_PROCESSOR_COUNT"), Some(cpus.as_str()));
        assert_eq!(get(&env, "NODE_OPTIONS"), None);
    }
    // MyApi.runtimeconfig.json sets System.GC.HeapHardLimitPercent: the app's own choice.
    let args = ["--root", root.to_str().unwrap(), "--", "MyApi"];
    let env = printed_env(jwrap_with(&dir, &args, &[]));
    assert_eq!(get(&env, "DOTNET_GCHeapHardLimit"), None);
    assert_eq!(get(&env, "DOTNET_PROCESSOR_COUNT"), Some(cpus.as_str()));
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
    let args = ["--memory-limit", "512m", "--cpus", "0.5", "--", "go-app"];
    let env = printed_env(jwrap_with(&dir, &args, &[]));
    assert_eq!(
        get(&env, "GOMEMLIMIT"),
        Some(go_memory_limit(512 * MIB).as_str())
    );
    assert_eq!(get(&env, "JWRAP_MEMORY_LIMIT_BYTES"), Some("536870912"));
    assert_eq!(get(&env, "JWRAP_CPUS"), Some("0.5"));
    // Half a CPU is one CPU to plan for; on a one-CPU host that is what Go counts anyway.
    let expected_procs = (host_cpus > 1).then_some("1");
    assert_eq!(get(&env, "GOMAXPROCS"), expected_procs);

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
    for name in [
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "NODE_OPTIONS",
        "PYTHON_CPU_COUNT",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let reasons: Vec<&str> = node["command"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for start in [
        "Go: GOMAXPROCS=2: ",
        "Go: GOMEMLIMIT=921MiB: 90 % of the 1 GiB limit (from /sys/fs/cgroup/memory.max)",
        "Node.js (COMMAND is node): NODE_OPTIONS gets --max-old-space-size=768: 75 % of",
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

/// V8's heap limit in MiB, as `node` reports it, run by `command`.
fn heap_size_limit_mib(mut command: Command) -> u64 {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse::<u64>().unwrap() / MIB
}

#[test]
fn a_real_node_heap_follows_jwrap_in_a_real_cgroup() {
    if Command::new("node").arg("--version").output().is_err() {
        skip!("no node on PATH");
    }
    let limit = 512 * MIB;
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
    let in_group = |program: &Path, args: &[&str], node_options: Option<&str>| {
        let mut command = group.command(Namespaces::Host, program, args);
        for (name, value) in clean.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        if let Some(options) = node_options {
            command.env("NODE_OPTIONS", options);
        }
        command
    };
    let node = Path::new("node");
    let by_itself = heap_size_limit_mib(in_group(node, &["-e", script], None));
    let under_jwrap =
        heap_size_limit_mib(in_group(&jwrap_path(), &["--", "node", "-e", script], None));
    let old_space = limit / 4 * 3 / MIB;
    let by_hand = heap_size_limit_mib(in_group(
        node,
        &["-e", script],
        Some(&format!("--max-old-space-size={old_space}")),
    ));
    eprintln!(
        "node heap_size_limit in a {} MiB cgroup: {by_itself} MiB by itself, {under_jwrap} MiB \
         under jwrap (--max-old-space-size={old_space})",
        limit / MIB
    );
    // jwrap's setting is exactly what the option given by hand does, and fits the limit.
    assert_eq!(under_jwrap, by_hand);
    assert!(
        under_jwrap >= old_space && under_jwrap < limit / MIB,
        "{under_jwrap}"
    );
}
