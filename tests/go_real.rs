//! Real Go programs under jwrap: built by Go 1.27 (go.mod `go 1.27`, and `go 1.24`, which
//! keeps `containermaxprocs=0`) and by Debian's Go 1.19, they print `runtime.GOMAXPROCS(0)`,
//! their memory limit and the variables they got.
//!
//! In real cgroup v1 groups, with a CPU quota on the process's own group and then on a parent
//! only: `runtime.GOMAXPROCS(0)` is what Go's rule gives for the quota (the quota rounded up, at
//! least 2, at most the CPUs the process may use), and jwrap's GOMAXPROCS appears only where Go
//! by itself would count otherwise. On a machine with 2 CPUs Go's rule always gives 2, which
//! every Go counts anyway, so the variable appears only on larger machines; `info` still says
//! which case it is. The fake roots (a 4-CPU host) show the variable where it is needed.

use crate::gotools::{Toolchain, report_program};
use crate::realcg::{Limits, RealCgroup};
use crate::skip;
use crate::util::{fixture, jwrap, jwrap_path};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

/// The three programs, with the case each is: (name, binary, reads its cgroup's CPU limit).
fn programs() -> Result<Vec<(&'static str, PathBuf, bool)>, String> {
    Ok(vec![
        ("go1.27", report_program(Toolchain::New, "1.27")?, true),
        (
            "go1.27, go.mod 1.24",
            report_program(Toolchain::New, "1.24")?,
            false,
        ),
        ("go1.19", report_program(Toolchain::Old, "1.19")?, false),
    ])
}

/// What the report program printed.
fn report(mut command: Command) -> BTreeMap<String, String> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim_start_matches("env ").split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Go's rule (`runtime/cgroup_linux.go`, Go 1.25+).
fn go_rule(cpus: u32, quota: f64) -> u32 {
    (quota.ceil() as u32).max(2).min(cpus)
}

/// The CPUs this process may run on (what Go counts without a limit).
fn affinity_cpus() -> u32 {
    let output = Command::new("nproc").arg("--all").output().unwrap();
    let all: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    let output = Command::new("nproc")
        .env_remove("OMP_NUM_THREADS")
        .output()
        .unwrap();
    let usable: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    all.min(usable)
}

/// `jwrap info --json -- PROGRAM`'s reasons that speak of Go, run by `command_for`.
fn go_reasons(info: &Value) -> Vec<String> {
    info["command"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .filter(|r| r.starts_with("Go"))
        .map(String::from)
        .collect()
}

#[test]
fn gomaxprocs_is_gos_rule_in_a_real_cgroup_and_jwrap_sets_it_only_where_go_would_not() {
    let programs = match programs() {
        Ok(programs) => programs,
        Err(reason) => skip!("{reason}"),
    };
    let cpus = affinity_cpus();
    let quota = 0.5;
    let limits = Limits {
        cpu_quota_us: Some(50_000),
        memory_bytes: Some(256 * MIB),
        ..Limits::default()
    };
    let own = match RealCgroup::create("go-own", limits.clone()) {
        Ok(group) => group,
        Err(reason) => skip!("{reason}"),
    };
    let parent = RealCgroup::create("go-parent", limits).unwrap();
    let leaf = parent.child("leaf", Limits::default()).unwrap();
    let in_group = |group: &RealCgroup, program: &Path, args: &[&str]| {
        let mut command = group.clean_command(program, args);
        command.env_remove("GODEBUG");
        command
    };
    let wanted = go_rule(cpus, quota);
    for (level, group) in [("own", &own), ("parent", &leaf)] {
        for (name, binary, reads_cgroup) in &programs {
            let binary = binary.to_str().unwrap();
            let by_itself = report(in_group(group, Path::new(binary), &[]));
            let under = report(in_group(group, &jwrap_path(), &["--", binary]));
            let info: Value = serde_json::from_slice(
                &in_group(group, &jwrap_path(), &["info", "--json", "--", binary])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap();
            let reasons = go_reasons(&info);
            let go_sees = *reads_cgroup && level == "own";
            let go_alone = if go_sees { wanted } else { cpus };
            eprintln!(
                "{name}, quota {quota} on the {level} group, {cpus} CPUs: GOMAXPROCS {} by \
                 itself, {} under jwrap (GOMAXPROCS variable: {:?}); {reasons:?}",
                by_itself["gomaxprocs"],
                under["gomaxprocs"],
                under.get("GOMAXPROCS")
            );
            assert_eq!(
                by_itself["gomaxprocs"],
                go_alone.to_string(),
                "{name} {level}"
            );
            assert_eq!(under["gomaxprocs"], wanted.to_string(), "{name} {level}");
            let expected_variable = (wanted < go_alone).then(|| wanted.to_string());
            assert_eq!(
                under.get("GOMAXPROCS"),
                expected_variable.as_ref(),
                "{name} {level}"
            );
            let case = if !*reads_cgroup && name.contains("1.24") {
                "containermaxprocs=0"
            } else if !*reads_cgroup {
                "Go 1.19 ignores CPU limits"
            } else if level == "parent" {
                "is on a parent cgroup"
            } else {
                "Go reads the CPU limit"
            };
            assert!(
                reasons.iter().any(|r| r.contains(case)),
                "{case}: {reasons:?}"
            );
            // GOMEMLIMIT, 90 % of the 256 MiB limit, reached Go's runtime.
            assert_eq!(under.get("GOMEMLIMIT").map(String::as_str), Some("230MiB"));
            assert_eq!(under["memlimit"], (230 * MIB).to_string());
            assert_eq!(by_itself["memlimit"], i64::MAX.to_string());
        }
    }
}

#[test]
fn gomaxprocs_appears_where_go_would_count_the_host_on_fake_roots() {
    let programs = match programs() {
        Ok(programs) => programs,
        Err(reason) => skip!("{reason}"),
    };
    // (fixture, the limit is on the process's own level): both on a 4-CPU host, with a
    // limit whose Go rule gives 2.
    for (fixture_name, own_level) in [
        ("docker-v2-cgroupns-private", true),
        ("k8s-v2-pod-limit", false),
    ] {
        let root = fixture(fixture_name);
        for (name, binary, reads_cgroup) in &programs {
            let mut command = jwrap();
            command
                .args(["--root", root.to_str().unwrap(), "--"])
                .arg(binary)
                .env_remove("GODEBUG");
            let under = report(command);
            let sees = *reads_cgroup && own_level;
            let expected = (!sees).then_some("2");
            assert_eq!(
                under.get("GOMAXPROCS").map(String::as_str),
                expected,
                "{name} on {fixture_name}"
            );
            // The program's count follows the variable where there is one.
            if let Some(value) = expected {
                assert_eq!(under["gomaxprocs"], value);
            }
            assert_eq!(under.get("GOMEMLIMIT").map(String::as_str), Some("921MiB"));
        }
    }
    // The user's GODEBUG decides over the binary's defaults, as in Go.
    let root = fixture("docker-v2-cgroupns-private");
    let (_, modern, _) = &programs[0];
    let (_, legacy, _) = &programs[1];
    for (binary, godebug, expected) in [
        (modern, "containermaxprocs=0", Some("2")),
        (legacy, "containermaxprocs=1", None),
    ] {
        let mut command = jwrap();
        command
            .args(["--root", root.to_str().unwrap(), "--"])
            .arg(binary)
            .env("GODEBUG", godebug);
        let under = report(command);
        assert_eq!(
            under.get("GOMAXPROCS").map(String::as_str),
            expected,
            "{godebug}"
        );
    }
}

#[test]
fn a_script_is_not_go_even_when_it_runs_go() {
    let programs = match programs() {
        Ok(programs) => programs,
        Err(reason) => skip!("{reason}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("entrypoint.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {}\n", programs[2].1.display()),
    )
    .unwrap();
    let mut command = jwrap();
    command.args([
        "--root",
        fixture("docker-v2-cgroupns-private").to_str().unwrap(),
        "--",
        "sh",
    ]);
    command.arg(&script);
    let under = report(command);
    assert_eq!(under.get("GOMAXPROCS"), None);
    assert_eq!(under.get("GOMEMLIMIT"), None);
}
