//! Sizing for what will run: the start scripts' variables read as the user's settings, the
//! collector the budget is for, the places jwrap cannot look, and the bound on one variable.
//! Table-driven over the public decision (`userflags::scan` + `decide::decide`), then end to
//! end through the binary with a fake JDK where the environment or a file matters.

use crate::java::{fake_jdk, fake_root, info_json, jwrap_in, printed, run, write};
use jwrap::java::budget::{self, Collector, UserRegions};
use jwrap::java::decide::{CgroupFacts, Decision, Placed, Policy, decide};
use jwrap::java::userflags::{
    FileRead, Hidden, Knob, LAUNCHER_VARIABLES, Sources, UserSettings, scan,
};
use jwrap::java::version::{JdkFacts, parse_version};
use jwrap::limits::{Limit, Limits, Source, effective_cpus};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const HOST_CPUS: u32 = 4;

fn jdk(version: &str) -> JdkFacts {
    JdkFacts {
        version: parse_version(version),
        oracle: false,
        openj9: false,
    }
}

/// A container-aware view: cgroup v1, `memory` bytes and `cpus` CPUs of quota, on a 4-CPU host.
fn container(memory: u64, cpus: u32) -> (Limits, CgroupFacts) {
    let source = || Source::file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "x");
    let limits = Limits {
        memory: Limit::Set {
            value: memory,
            source: source(),
        },
        cpu: Limit::Set {
            value: f64::from(cpus),
            source: source(),
        },
        effective_cpus: effective_cpus(Some(HOST_CPUS), None, Some(f64::from(cpus))),
    };
    let cgroup = CgroupFacts {
        version: Some(1),
        memory: Some(Placed {
            value: memory,
            own_cgroup: true,
        }),
        cpu_quota: Some(Placed {
            value: f64::from(cpus),
            own_cgroup: true,
        }),
        cpu_weight: Some(1024),
        host_cpus: Some(HOST_CPUS),
        host_memory: Some(64 * GIB),
        cpuset_cpus: None,
        controllers: jwrap::cgroup::KernelControllers::default(),
    };
    (limits, cgroup)
}

/// How COMMAND looks: `java` itself, or a start script.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Program {
    Java,
    Script,
}

/// The user's settings as `java::inspect` gathers them: the launcher variables only for a
/// script, and the script itself as a place jwrap cannot look.
fn settings(
    command: Program,
    env: &[(&str, &str)],
    args: &[&str],
    read: &dyn Fn(&Path) -> FileRead,
) -> UserSettings {
    let get = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    let launcher: Vec<(&'static str, String)> = if command == Program::Script {
        LAUNCHER_VARIABLES
            .iter()
            .filter_map(|(name, _)| Some((*name, get(name)?)))
            .collect()
    } else {
        Vec::new()
    };
    let arguments: Vec<OsString> = args.iter().map(OsString::from).collect();
    let tool = get("JAVA_TOOL_OPTIONS");
    let sources = Sources {
        java_tool_options: tool.as_deref(),
        command_line: (command == Program::Java).then_some(&arguments[..]),
        launcher: &launcher,
        argfiles: true,
        ..Sources::default()
    };
    let mut user = scan(&sources, read);
    if command == Program::Script {
        user.hidden
            .insert(0, Hidden::Launcher("catalina.sh".to_string()));
    }
    user
}

fn no_files(_: &Path) -> FileRead {
    FileRead::Failed("no such file".to_string())
}

fn decision(version: &str, memory: u64, cpus: u32, user: &UserSettings) -> Decision {
    let (limits, cgroup) = container(memory, cpus);
    decide(&limits, &jdk(version), &cgroup, &Policy::default(), user)
}

fn heap_flag(decision: &Decision) -> Option<u64> {
    decision
        .flags
        .iter()
        .find_map(|f| f.strip_prefix("-Xmx")?.strip_suffix('m')?.parse().ok())
}

#[test]
fn every_launcher_variable_is_the_users_setting_for_a_script_and_nothing_for_java() {
    for (name, _) in LAUNCHER_VARIABLES {
        for (option, knob) in [
            ("-Xmx200m", Knob::MaxHeap),
            ("-XX:MaxRAMPercentage=40.0", Knob::RamShare),
            ("-XX:+UseG1GC", Knob::Collector),
            ("-XX:-UseContainerSupport", Knob::ContainerSupport),
        ] {
            let env = [(*name, option)];
            let user = settings(Program::Script, &env, &[], &no_files);
            let found = user.get(knob).unwrap_or_else(|| panic!("{name}={option}"));
            assert_eq!(found.channel.to_string(), *name, "{name}={option}");
            let d = decision("17.0.15", 512 * MIB, 2, &user);
            if matches!(knob, Knob::MaxHeap | Knob::RamShare) {
                assert_eq!(heap_flag(&d), None, "{name}={option}: {:?}", d.flags);
            }
            // A java command line never sees a script's variables.
            let java = settings(Program::Java, &env, &["-jar", "app.jar"], &no_files);
            assert!(java.settings.is_empty(), "{name} read for java");
            assert!(java.hidden.is_empty());
        }
    }
}

#[test]
fn catalina_opts_comes_after_java_opts_and_wins() {
    let env = [("JAVA_OPTS", "-Xmx300m"), ("CATALINA_OPTS", "-Xmx200m")];
    let user = settings(Program::Script, &env, &[], &no_files);
    let heap = user.get(Knob::MaxHeap).unwrap();
    assert_eq!(
        (heap.option.as_str(), heap.channel.to_string().as_str()),
        ("-Xmx200m", "CATALINA_OPTS")
    );
    let d = decision("17.0.15", 512 * MIB, 2, &user);
    assert_eq!(d.users_heap.as_ref().map(|h| h.0), Some(200));
    assert_eq!(heap_flag(&d), None);
}

/// (JDK, limit bytes, CPUs, COMMAND, the user's (variable, option), collectors expected).
type CollectorCase = (
    &'static str,
    u64,
    u32,
    Program,
    &'static [(&'static str, &'static str)],
    &'static [Collector],
);

/// The collector rule, as a table: JDK, limit, CPUs, COMMAND, the user's settings (variable,
/// option) → the collectors the budget allows for.
#[test]
fn the_collector_the_budget_is_for() {
    use Collector::*;
    let cases: &[CollectorCase] = &[
        // Known channels only: the JVM's ergonomics.
        ("17.0.15", 256 * MIB, 1, Program::Java, &[], &[Serial]),
        ("17.0.15", 512 * MIB, 2, Program::Java, &[], &[Serial]),
        ("17.0.15", 4 * GIB, 1, Program::Java, &[], &[Serial]),
        ("17.0.15", 4 * GIB, 2, Program::Java, &[], &[G1]),
        ("1.8.0_372", 4 * GIB, 2, Program::Java, &[], &[Parallel]),
        ("1.8.0_372", 256 * MIB, 1, Program::Java, &[], &[Serial]),
        // JEP 523: JDK 27+ picks G1 everywhere.
        ("27", 256 * MIB, 1, Program::Java, &[], &[G1]),
        ("28.0.1", 128 * MIB, 1, Program::Java, &[], &[G1]),
        // A script may choose any: the budget is for the largest share.
        (
            "17.0.15",
            256 * MIB,
            1,
            Program::Script,
            &[],
            &[Serial, Parallel, G1],
        ),
        (
            "27",
            256 * MIB,
            1,
            Program::Script,
            &[],
            &[Serial, Parallel, G1],
        ),
        (
            "17.0.15",
            256 * MIB,
            1,
            Program::Script,
            &[("JAVA_OPTS", "-Dx=1")],
            &[Serial, Parallel, G1],
        ),
        // A choice anywhere is the collector (HotSpot refuses two).
        (
            "17.0.15",
            256 * MIB,
            1,
            Program::Script,
            &[("CATALINA_OPTS", "-XX:+UseG1GC")],
            &[G1],
        ),
        (
            "17.0.15",
            256 * MIB,
            1,
            Program::Script,
            &[("JAVA_OPTS", "-XX:+UseSerialGC")],
            &[Serial],
        ),
        (
            "17.0.15",
            4 * GIB,
            2,
            Program::Script,
            &[("JAVA_OPTIONS", "-XX:+UseParallelGC")],
            &[Parallel],
        ),
        (
            "17.0.15",
            256 * MIB,
            1,
            Program::Java,
            &[("JAVA_TOOL_OPTIONS", "-XX:+UseG1GC")],
            &[G1],
        ),
        (
            "21",
            4 * GIB,
            2,
            Program::Script,
            &[("KAFKA_JVM_PERFORMANCE_OPTS", "-XX:+UseZGC")],
            &[Unmeasured],
        ),
    ];
    for (version, memory, cpus, command, env, expected) in cases {
        let user = settings(*command, env, &["-jar", "app.jar"], &no_files);
        let d = decision(version, *memory, *cpus, &user);
        let context = format!(
            "JDK {version}, {} MiB, {cpus} CPU, {command:?}, {env:?}",
            memory / MIB
        );
        assert_eq!(&d.collectors, expected, "{context}");
        // The budget is the one for the largest share among them: the smallest heap.
        let smallest = expected
            .iter()
            .map(|&c| budget::budget(*memory, &UserRegions::default(), c, None).heap_mib)
            .min()
            .unwrap();
        assert_eq!(d.budget.as_ref().unwrap().heap_mib, smallest, "{context}");
        if *command == Program::Script && env.iter().all(|(_, o)| !o.contains("GC")) {
            assert!(
                d.reasons.iter().any(|r| r.contains("cannot see")),
                "{context}: {:?}",
                d.reasons
            );
        }
    }
}

#[test]
fn the_serial_share_only_when_serial_will_run() {
    // At 256 MiB and 1 CPU JDK 17 picks Serial: java gets the Serial budget, a script the
    // largest; G1's is never larger than the smallest heap of the three.
    let java = decision(
        "17.0.15",
        256 * MIB,
        1,
        &settings(Program::Java, &[], &["-jar", "a.jar"], &no_files),
    );
    let script = decision(
        "17.0.15",
        256 * MIB,
        1,
        &settings(Program::Script, &[], &[], &no_files),
    );
    let serial = budget::budget(256 * MIB, &UserRegions::default(), Collector::Serial, None);
    let g1 = budget::budget(256 * MIB, &UserRegions::default(), Collector::G1, None);
    assert_eq!(heap_flag(&java), Some(serial.heap_mib));
    assert_eq!(heap_flag(&script), Some(g1.heap_mib));
    assert!(g1.heap_mib < serial.heap_mib, "{g1} / {serial}");
}

#[test]
fn blindness_and_ram_percentage_from_a_launcher_variable() {
    let user = settings(
        Program::Script,
        &[("JAVA_OPTS", "-XX:-UseContainerSupport")],
        &[],
        &no_files,
    );
    let d = decision("17.0.15", 512 * MIB, 2, &user);
    assert!(d.sight.blind, "{:?}", d.sight);
    assert!(d.sight.why.contains("JAVA_OPTS"), "{}", d.sight.why);
    assert!(
        d.flags.iter().any(|f| f == "-XX:MaxRAM=512m"),
        "{:?}",
        d.flags
    );
    assert!(heap_flag(&d).is_some());

    // -XX:MaxRAMPercentage=40 at 512 MiB: 204 MiB, jwrap adds no -Xmx and says how much.
    let user = settings(
        Program::Script,
        &[("JAVA_OPTS", "-XX:MaxRAMPercentage=40")],
        &[],
        &no_files,
    );
    let d = decision("17.0.15", 512 * MIB, 2, &user);
    assert_eq!(heap_flag(&d), None, "{:?}", d.flags);
    assert_eq!(d.users_heap.as_ref().map(|h| h.0), Some(204));
    assert!(
        d.reasons.iter().any(|r| r.contains("about 204 MiB")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_users_heap_above_the_budget_is_warned_about_never_overridden() {
    for (option, warned) in [("-Xmx300m", true), ("-Xmx64m", false)] {
        let user = settings(
            Program::Script,
            &[("CATALINA_OPTS", option)],
            &[],
            &no_files,
        );
        let d = decision("17.0.15", 256 * MIB, 1, &user);
        assert_eq!(heap_flag(&d), None);
        let warning = d.warnings.iter().find(|w| w.contains(option));
        assert_eq!(warning.is_some(), warned, "{option}: {:?}", d.warnings);
    }
}

#[test]
fn a_pipe_argfile_is_not_read_and_sized_for_anything() {
    let pipe = |path: &Path| {
        assert_eq!(path, Path::new("/dev/stdin"));
        FileRead::NotAFile("a pipe")
    };
    let user = settings(
        Program::Java,
        &[],
        &["@/dev/stdin", "-Xss1m", "-jar", "app.jar"],
        &pipe,
    );
    assert_eq!(user.hidden.len(), 1, "{:?}", user.hidden);
    // The words after it are still the user's options.
    assert!(user.get(Knob::StackSize).is_some());
    let d = decision("17.0.15", 256 * MIB, 1, &user);
    assert_eq!(
        d.collectors,
        [Collector::Serial, Collector::Parallel, Collector::G1]
    );
    let warnings: Vec<&String> = d
        .warnings
        .iter()
        .filter(|w| w.contains("@/dev/stdin"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", d.warnings);
    assert!(warnings[0].contains("a pipe"), "{}", warnings[0]);
}

/// End to end: a FIFO as @argfile is never opened for reading by jwrap (no hang) and reaches
/// java intact, with the user's -Xmx77m in it.
#[test]
fn a_fifo_argfile_reaches_java_unread() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    let java = fake_jdk(&home, Some("17.0.15"), "exit 1");
    // This java also prints what its argfile holds.
    write(
        &java,
        "#!/bin/sh\nfor arg in \"$@\"; do printf 'arg=%s\\n' \"$arg\"; case $arg in @*) \
         printf 'argfile=%s\\n' \"$(/bin/cat \"${arg#@}\")\";; esac; done\n\
         printf 'JAVA_TOOL_OPTIONS=%s\\n' \"$JAVA_TOOL_OPTIONS\"\n",
    );
    let root = fake_root(dir.path(), true, 2);
    let fifo = dir.path().join("args.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("skipped: mkfifo failed ({other:?})");
            return;
        }
    }
    let fifo_arg = format!("@{}", fifo.display());
    let mut child = jwrap_in(false, &root, &[], &[])
        .args(["--"])
        .arg(&java)
        .args([fifo_arg.as_str(), "-jar", "app.jar"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The writer blocks until a reader opens the FIFO: only java should.
    let writer_fifo = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(writer_fifo, "-Xmx77m\n"));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "jwrap hangs on a FIFO argfile"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("argfile=-Xmx77m"), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("arg={fifo_arg}")), "{stdout}");
    let mentions = stderr
        .lines()
        .filter(|l| l.contains("args.fifo") && l.contains("a FIFO"))
        .count();
    assert_eq!(mentions, 1, "one warning: {stderr}");
}

/// A byte that is not UTF-8 in `JAVA_TOOL_OPTIONS` does not hide the user's -Xmx50m.
#[test]
fn a_non_utf8_java_tool_options_still_counts() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(&dir.path().join("jdk"), Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let value = std::ffi::OsStr::from_bytes(b"-Dname=caf\xe9 -Xmx50m");
    let info = info_json(
        jwrap_in(true, &root, &[], &[])
            .env("JAVA_TOOL_OPTIONS", value)
            .arg("--")
            .arg(&java)
            .args(["-jar", "app.jar"]),
    );
    let flags = crate::java::flags(&info);
    assert!(!flags.iter().any(|f| f.starts_with("-Xmx")), "{flags:?}");
    let text = info.to_string();
    assert!(text.contains("-Xmx50m (in JAVA_TOOL_OPTIONS)"), "{text}");
}

/// `JAVA_TOOL_OPTIONS` near the kernel's 128 KiB bound on one string: jwrap adds nothing to it,
/// says so naming the variable, and the command runs with the user's value intact.
#[test]
fn a_java_tool_options_near_the_kernels_limit_is_left_alone() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    let java = fake_jdk(&home, Some("17.0.15"), "exit 1");
    let root = fake_root(dir.path(), true, 2);
    let script = format!("exec '{}' -cp app Main", java.display());
    // "JAVA_TOOL_OPTIONS=" + value + NUL = 131072 bytes: the largest the kernel takes.
    let long = format!("-Dpad={}", "x".repeat(131_072 - 18 - 1 - 6));
    let output = run(jwrap_in(
        false,
        &root,
        &[],
        &[
            ("JAVA_HOME", home.to_str().unwrap()),
            ("JAVA_TOOL_OPTIONS", long.as_str()),
        ],
    )
    .args(["--", "/bin/sh", "-c", &script]));
    let (_, tool_options) = printed(&output);
    assert_eq!(tool_options, long);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JAVA_TOOL_OPTIONS") && stderr.contains("131072"),
        "{stderr}"
    );
}
