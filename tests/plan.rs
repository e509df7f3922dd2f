//! The plan for COMMAND without running it: where the JVM flags go (arguments or
//! `JAVA_TOOL_OPTIONS`), what is kept of the user's environment, and what decided the heap.

use jwrap::cli;
use jwrap::config;
use jwrap::config::Config;
use jwrap::java::decide::{CgroupFacts, Placed};
use jwrap::java::discover::{FoundBy, Jdk, VersionSource};
use jwrap::java::userflags::{Knob, UserSettings};
use jwrap::java::version::{JdkFacts, parse_version};
use jwrap::java::{self, JavaInputs};
use jwrap::limits::Limits;
use jwrap::limits::{Limit, Source};
use jwrap::plan::{HeapDecidedBy, JavaHeap, Plan};
use jwrap::runtimes;
use std::ffi::OsString;
use std::path::PathBuf;

const GIB: u64 = 1 << 30;

fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
    let parsed = cli::parse(args.iter().map(OsString::from)).unwrap();
    config::build(parsed, env.iter().copied().collect()).unwrap()
}

fn inputs(version: &str, command_is_java: bool) -> JavaInputs {
    let home = PathBuf::from("/opt/jdk");
    JavaInputs {
        jdk: Jdk {
            java: home.join("bin/java"),
            resolved: home.join("bin/java"),
            home: home.clone(),
            found_by: FoundBy::Path,
            how: "the java on PATH".to_string(),
            facts: JdkFacts {
                version: parse_version(version),
                ..JdkFacts::default()
            },
            version_source: VersionSource::ReleaseFile(home.join("release")),
            vendor: None,
            runtime_version: None,
        },
        command_is_java,
        user: UserSettings::default(),
        cgroup: CgroupFacts {
            version: Some(2),
            memory: Some(Placed {
                value: GIB,
                own_cgroup: true,
            }),
            host_cpus: Some(2),
            ..CgroupFacts::default()
        },
    }
}

fn limits() -> Limits {
    Limits {
        memory: Limit::Set {
            value: GIB,
            source: Source::file("/sys/fs/cgroup/memory.max", "1073741824"),
        },
        cpu: Limit::Unlimited { source: None },
        effective_cpus: 2,
    }
}

/// The plan, with COMMAND's program recognised by name as `runtimes::inspect` would.
fn plan(config: &Config, limits: &Limits, java: Option<&JavaInputs>) -> Plan {
    let program = if java::discover::program_is_java(&config.command) {
        runtimes::Program::Java
    } else {
        runtimes::Program::Other
    };
    let runtime = runtimes::Inputs {
        program,
        host_cpus: Some(2),
        ..runtimes::Inputs::default()
    };
    jwrap::plan::plan(config, limits, java, &runtime)
}

/// The plan's `JAVA_TOOL_OPTIONS`, if it sets it.
fn tool_options(plan: &Plan) -> Option<String> {
    plan.env
        .iter()
        .find(|(name, _)| name == "JAVA_TOOL_OPTIONS")
        .map(|(_, value)| value.to_string_lossy().into_owned())
}

fn words(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn auto_puts_flags_right_after_java_and_keeps_the_users_order() {
    let config = config(&["--", "java", "-Xss1m", "-jar", "app.jar", "-x"], &[]);
    let plan = plan(&config, &limits(), Some(&inputs("17", true)));
    assert!(!plan.jvm_flags.is_empty());
    let mut expected = vec!["java".to_string()];
    expected.extend(plan.jvm_flags.iter().cloned());
    expected.extend(["-Xss1m", "-jar", "app.jar", "-x"].map(String::from));
    assert_eq!(words(&plan.argv), expected);
    assert_eq!(tool_options(&plan), None);
    // The facts are built for `info` only.
    assert_eq!(plan.java, None);
}

#[test]
fn info_gets_the_java_facts_and_the_same_command() {
    let args = ["--", "java", "-Xss1m", "-jar", "app.jar"];
    let run = plan(&config(&args, &[]), &limits(), Some(&inputs("17", true)));
    let info_args: Vec<&str> = std::iter::once("info").chain(args).collect();
    let info = plan(
        &config(&info_args, &[]),
        &limits(),
        Some(&inputs("17", true)),
    );
    assert_eq!(info.argv, run.argv);
    let java = info.java.as_ref().expect("the java facts");
    assert_eq!(java.delivery, "arguments");
    assert_eq!(java.version.as_deref(), Some("17"));
}

#[test]
fn auto_uses_java_tool_options_for_other_commands_and_keeps_their_contents() {
    let config = config(
        &["--", "./start.sh", "a"],
        &[("JAVA_TOOL_OPTIONS", "-Dmine=1")],
    );
    let plan = plan(&config, &limits(), Some(&inputs("17", false)));
    assert_eq!(words(&plan.argv), ["./start.sh", "a"]);
    assert_eq!(
        tool_options(&plan),
        Some(format!("-Dmine=1 {}", plan.jvm_flags.join(" ")))
    );
    assert_eq!(
        plan.heap,
        Some(JavaHeap {
            command_is_java: false,
            decided_by: HeapDecidedBy::Jwrap {
                flag: plan.jvm_flags[0].clone(),
                delivery: "JAVA_TOOL_OPTIONS".to_string()
            }
        })
    );
}

#[test]
fn a_blank_java_tool_options_is_replaced() {
    let config = config(
        &["--java-flags", "env", "--", "java", "-jar", "app.jar"],
        &[("JAVA_TOOL_OPTIONS", "  ")],
    );
    let plan = plan(&config, &limits(), Some(&inputs("17", true)));
    assert_eq!(tool_options(&plan), Some(plan.jvm_flags.join(" ")));
    assert_eq!(words(&plan.argv), ["java", "-jar", "app.jar"]);
}

#[test]
fn args_mode_on_another_command_says_so() {
    let config = config(&["--java-flags", "args", "--", "./start.sh", "a"], &[]);
    let plan = plan(&config, &limits(), Some(&inputs("17", false)));
    assert_eq!(words(&plan.argv)[0], "./start.sh");
    assert_eq!(
        words(&plan.argv)[1..=plan.jvm_flags.len()],
        plan.jvm_flags[..]
    );
    assert_eq!(words(&plan.argv).last().map(String::as_str), Some("a"));
    assert!(
        plan.reasons
            .iter()
            .any(|r| r.text().contains("COMMAND is not java"))
    );
}

#[test]
fn off_adds_nothing_but_still_explains() {
    let config = config(
        &[
            "info",
            "--java-flags",
            "off",
            "--",
            "java",
            "-jar",
            "app.jar",
        ],
        &[],
    );
    let plan = plan(&config, &limits(), Some(&inputs("17", true)));
    assert_eq!(words(&plan.argv), ["java", "-jar", "app.jar"]);
    assert!(tool_options(&plan).is_none() && plan.jvm_flags.is_empty());
    assert_eq!(plan.java.as_ref().map(|j| j.delivery.as_str()), Some("off"));
    assert!(matches!(
        plan.heap.map(|heap| heap.decided_by),
        Some(HeapDecidedBy::JvmDefault { why }) if why.starts_with("--java-flags off")
    ));
    assert!(
        plan.reasons
            .iter()
            .any(|r| r.text().starts_with("--java-flags off: not adding -Xmx"))
    );
}

#[test]
fn every_mode_delivers_each_flag_once_and_keeps_the_users_arguments() {
    let modes = ["auto", "args", "env", "off"];
    for version in ["1.8.0_181", "1.8.0_372", "11.0.9", "17", "21"] {
        for mode in modes {
            for command in [&["java", "-Dx=1", "Main", "a"][..], &["./run.sh", "a"]] {
                let mut args = vec!["--java-flags", mode, "--"];
                args.extend_from_slice(command);
                let config = config(&args, &[("JAVA_TOOL_OPTIONS", "-Dtool=1")]);
                let is_java = command[0] == "java";
                let plan = plan(&config, &limits(), Some(&inputs(version, is_java)));
                let context = format!("{version} {mode} {command:?}: {plan:#?}");
                let argv = words(&plan.argv);
                let tool_options = tool_options(&plan);
                let by_args = mode == "args" || (mode == "auto" && is_java);
                if mode == "off" {
                    assert!(plan.jvm_flags.is_empty(), "{context}");
                } else {
                    assert!(
                        plan.jvm_flags.iter().any(|f| f.starts_with("-Xmx")),
                        "{context}"
                    );
                }
                for flag in &plan.jvm_flags {
                    let in_argv = argv.iter().filter(|a| *a == flag).count();
                    let in_env = tool_options
                        .as_deref()
                        .map_or(0, |t| t.split(' ').filter(|w| w == flag).count());
                    assert_eq!(
                        (in_argv, in_env),
                        if by_args { (1, 0) } else { (0, 1) },
                        "{context}"
                    );
                }
                let flags_in_argv = if by_args { plan.jvm_flags.len() } else { 0 };
                assert_eq!(argv[0], command[0], "{context}");
                assert_eq!(argv[1 + flags_in_argv..], command[1..], "{context}");
                if let Some(tool_options) = tool_options {
                    assert!(tool_options.starts_with("-Dtool=1 "), "{context}");
                }
            }
        }
    }
}

#[test]
fn no_jdk_no_java() {
    let config = config(&["--", "node", "server.js"], &[]);
    let plan = plan(&config, &limits(), None);
    assert_eq!(words(&plan.argv), ["node", "server.js"]);
    assert!(plan.jvm_flags.is_empty() && tool_options(&plan).is_none());
    assert!(plan.reasons.iter().all(|r| !r.text().contains("JDK")));
    assert_eq!(plan.java, None);
    assert_eq!(plan.heap, None);
}

#[test]
fn the_runtime_variables_follow_the_java_flags() {
    let config = config(&["--", "./start.sh"], &[("JAVA_TOOL_OPTIONS", "-Dmine=1")]);
    let script = plan(&config, &limits(), Some(&inputs("17", false)));
    let names: Vec<_> = script
        .env
        .iter()
        .map(|(n, _)| n.to_string_lossy())
        .collect();
    // A script is not a Go executable: no Go variables.
    assert_eq!(names, ["JAVA_TOOL_OPTIONS", runtimes::MEMORY_LIMIT_BYTES]);
    assert!(script.reasons.iter().any(|r| {
        r.text()
            .starts_with("Go: COMMAND's program is not a Go executable")
    }));
    // A java command gets only jwrap's own pair.
    let config = self::config(&["--", "java", "-jar", "app.jar"], &[]);
    let java = plan(&config, &limits(), Some(&inputs("17", true)));
    let names: Vec<_> = java.env.iter().map(|(n, _)| n.to_string_lossy()).collect();
    assert_eq!(names, [runtimes::MEMORY_LIMIT_BYTES]);
}

#[test]
fn the_users_heap_setting_decides_the_heap() {
    let config = config(&["--", "java", "-Xmx1g", "-jar", "app.jar"], &[]);
    let mut java = inputs("17", true);
    java.user
        .settings
        .push(jwrap::java::userflags::UserSetting {
            knob: Knob::MaxHeap,
            option: "-Xmx1g".to_string(),
            channel: jwrap::java::userflags::Channel::CommandLine,
        });
    let by_user = plan(&config, &limits(), Some(&java));
    assert_eq!(
        by_user.heap.map(|heap| heap.decided_by),
        Some(HeapDecidedBy::User {
            option: "-Xmx1g".to_string(),
            channel: "the command line".to_string()
        })
    );
    // No limit: no flag, the JVM's default.
    let unlimited = Limits {
        memory: Limit::Unlimited { source: None },
        ..limits()
    };
    let by_default = plan(&config, &unlimited, Some(&inputs("17", true)));
    assert!(matches!(
        by_default.heap.map(|heap| heap.decided_by),
        Some(HeapDecidedBy::JvmDefault { .. })
    ));
}

#[test]
fn warnings_and_notes_are_told_apart() {
    let config = config(
        &["--memory-limit", "64m", "--", "java", "-jar", "app.jar"],
        &[],
    );
    let mut small = limits();
    small.memory = Limit::Set {
        value: 64 << 20,
        source: Source::file("x", "x"),
    };
    let plan = plan(&config, &small, Some(&inputs("17", true)));
    let warnings: Vec<&str> = plan.warnings().collect();
    assert_eq!(warnings.len(), 1, "{:?}", plan.reasons);
    assert!(warnings[0].contains("safe and useful"));
    assert!(plan.notes().all(|note| !note.starts_with("warning")));
}
