//! The check of what ran: `HotSpot`'s performance data parsed from real JVMs (each collector),
//! the parser's bounds on bad bytes, the comparison with the plan as a table, and end to end:
//! jwrap warns once, at once, about a JVM that runs otherwise than planned.

use crate::jvm_real::java_programs;
use crate::util::jwrap;
use jwrap::java::budget::Collector;
use jwrap::java::hsperf::{self, ParseError, Value};
use jwrap::java::ranwith::{Expected, Observed, compare};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `java OPTIONS Idle 20000`, killed on drop.
struct Jvm(Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_jvm(programs: &Path, options: &[&str]) -> Jvm {
    Jvm(Command::new("java")
        .args(options)
        .arg("-cp")
        .arg(programs)
        .args(["Idle", "20000"])
        .env_remove("JAVA_TOOL_OPTIONS")
        .env_remove("_JAVA_OPTIONS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start java"))
}

/// The JVM's performance data once it has started (it writes the file while starting).
fn perf_data(pid: i32) -> hsperf::PerfData {
    let started = Instant::now();
    loop {
        if let Some(path) = hsperf::find(Path::new("/tmp"), pid) {
            if let Ok(data) = hsperf::read(&path) {
                if data
                    .long("sun.rt.createVmEndTime")
                    .is_some_and(|end| end > 0)
                {
                    return data;
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no performance data for pid {pid}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn real_jvms_report_their_collector_heap_and_options() {
    let programs = match java_programs() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    for (flag, collector) in [
        ("-XX:+UseSerialGC", Collector::Serial),
        ("-XX:+UseParallelGC", Collector::Parallel),
        ("-XX:+UseG1GC", Collector::G1),
    ] {
        let jvm = start_jvm(&programs, &[flag, "-Xmx64m", "-Dmark=jvmcheck"]);
        let pid = jvm.0.id() as i32;
        let data = perf_data(pid);
        let observed = Observed::from_perf(pid, "java".to_string(), &data).unwrap();
        assert_eq!(observed.collector, collector, "{flag}: {observed:?}");
        assert_eq!(observed.max_heap_mib, Some(64), "{flag}: {observed:?}");
        assert!(
            observed.jvm_args.contains("-Dmark=jvmcheck"),
            "{observed:?}"
        );
        assert_eq!(observed.heap_option(), Some("-Xmx64m"));
        assert!(data.java_command().is_some_and(|c| c.contains("Idle")));
        let entry = data.entries.get("sun.gc.generation.0.maxCapacity").unwrap();
        assert_eq!(entry.units, hsperf::Units::Bytes);
    }
}

/// A performance data file of `entries` (name, value), in either byte order.
fn encode(little: bool, entries: &[(&str, Value)]) -> Vec<u8> {
    let mut entries = entries.to_vec();
    entries.push(("sun.rt.createVmEndTime", Value::Long(1)));
    let int = |v: i32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut body = Vec::new();
    for (name, value) in &entries {
        let mut entry = Vec::new();
        let name_at = 20;
        let mut name_bytes = name.as_bytes().to_vec();
        name_bytes.push(0);
        while name_bytes.len() % 8 != 4 {
            name_bytes.push(0);
        }
        let data_at = name_at + name_bytes.len();
        let (kind, vector, units, data): (u8, i32, u8, Vec<u8>) = match value {
            Value::Long(v) => (
                b'J',
                0,
                2,
                if little {
                    v.to_le_bytes().to_vec()
                } else {
                    v.to_be_bytes().to_vec()
                },
            ),
            Value::Text(t) => {
                let mut bytes = t.as_bytes().to_vec();
                bytes.resize(bytes.len() + 8, 0);
                (b'B', bytes.len() as i32, 5, bytes)
            }
            Value::Unsupported(_) => unreachable!(),
        };
        let length = (data_at + data.len()) as i32;
        entry.extend(int(length));
        entry.extend(int(name_at as i32));
        entry.extend(int(vector));
        entry.extend([kind, 0, units, 1]);
        entry.extend(int(data_at as i32));
        entry.extend(name_bytes);
        entry.extend(data);
        body.extend(entry);
    }
    let mut file = vec![0xca, 0xfe, 0xc0, 0xc0, u8::from(little), 2, 0, 1];
    file.extend(int(32 + body.len() as i32));
    file.extend(int(0));
    file.extend([0u8; 8]);
    file.extend(int(32));
    file.extend(int(entries.len() as i32));
    file.extend(body);
    file
}

#[test]
fn the_parser_reads_either_byte_order_and_refuses_what_is_not_perf_data() {
    let entries = [
        (
            "sun.gc.collector.0.name",
            Value::Text("G1 young collection pauses".to_string()),
        ),
        ("sun.gc.generation.0.maxCapacity", Value::Long(200 << 20)),
        ("sun.gc.generation.1.maxCapacity", Value::Long(200 << 20)),
        ("java.rt.vmArgs", Value::Text("-Xmx200m -Da=b".to_string())),
    ];
    for little in [true, false] {
        let data = hsperf::parse(&encode(little, &entries)).unwrap();
        assert_eq!(data.collector_name(), Some("G1 young collection pauses"));
        // G1's generations each report the whole heap.
        assert_eq!(data.max_heap(), Some(200 << 20));
        assert_eq!(data.jvm_args(), Some("-Xmx200m -Da=b"));
    }
    let good = encode(true, &entries);
    assert_eq!(hsperf::parse(&good[..10]), Err(ParseError::TooShort(10)));
    let mut bad = good.clone();
    bad[0] = 0;
    assert!(matches!(hsperf::parse(&bad), Err(ParseError::BadMagic(_))));
    let mut bad = good.clone();
    bad[4] = 7;
    assert_eq!(hsperf::parse(&bad), Err(ParseError::BadByteOrder(7)));
    // Cut in the middle of the entries (a JVM still writing): the whole entries before the cut.
    let cut = hsperf::parse(&good[..good.len() - 20]).unwrap();
    assert!(cut.entries.len() <= entries.len());
    assert!(cut.long("sun.rt.createVmEndTime").is_none());
    // An entry pointing far outside: an error or fewer entries, never a panic.
    let mut wild = good.clone();
    wild[32 + 4..32 + 8].copy_from_slice(&i32::MAX.to_le_bytes());
    let _ = hsperf::parse(&wild);
    // Every prefix parses or fails cleanly.
    for len in 0..good.len() {
        let _ = hsperf::parse(&good[..len]);
    }
}

fn observed(collector: Collector, heap: u64, args: &str) -> Observed {
    Observed {
        pid: 42,
        name: "java".to_string(),
        collector,
        collector_name: format!("{} young collection pauses", collector.name()),
        max_heap_mib: Some(heap),
        jvm_args: args.to_string(),
    }
}

/// (collectors planned, budget MiB, jwrap's -Xmx, what ran, words of the warning).
type PlanCase = (
    &'static [Collector],
    u64,
    Option<&'static str>,
    Observed,
    &'static [&'static str],
);

/// What ran against the plan, as a table: (collectors planned, budget, jwrap's -Xmx, what ran)
/// → the words the one warning must hold (none: no warning).
#[test]
fn what_ran_against_the_plan() {
    use Collector::*;
    let cases: &[PlanCase] = &[
        (
            &[Serial],
            116,
            Some("-Xmx116m"),
            observed(Serial, 116, "-Xmx116m"),
            &[],
        ),
        // Alignment is not a difference.
        (&[G1], 73, Some("-Xmx73m"), observed(G1, 76, "-Xmx73m"), &[]),
        (
            &[Serial],
            116,
            Some("-Xmx116m"),
            observed(G1, 116, "-XX:+UseG1GC -Xmx116m"),
            &["runs G1", "budget was for Serial"],
        ),
        (
            &[Serial, Parallel, G1],
            73,
            Some("-Xmx73m"),
            observed(G1, 300, "-Xmx73m -Xmx300m"),
            &["300 MiB", "-Xmx300m", "above the 73 MiB"],
        ),
        (
            &[G1],
            73,
            Some("-Xmx73m"),
            observed(G1, 4096, "-Dlauncher=child"),
            &["none of jwrap's flags", "4096 MiB"],
        ),
        // The user's own heap within the budget, no jwrap flag: as planned.
        (&[G1], 300, None, observed(G1, 200, "-Xmx200m"), &[]),
    ];
    for (collectors, budget, flag, ran, words) in cases {
        let expected = Expected {
            collectors: collectors.to_vec(),
            budget_heap_mib: Some(*budget),
            jwrap_heap_flag: flag.map(String::from),
        };
        let warning = compare(&expected, ran);
        match (words.is_empty(), &warning) {
            (true, None) => {}
            (false, Some(text)) => {
                assert!(
                    text.starts_with("java (pid 42) does not run as planned"),
                    "{text}"
                );
                for word in *words {
                    assert!(text.contains(word), "{word:?} not in {text}");
                }
            }
            _ => panic!("{ran:?} against {expected:?}: {warning:?}"),
        }
    }
}

/// End to end: a JVM started by a script without jwrap's `JAVA_TOOL_OPTIONS` (as a launcher's
/// forked child would be) is found among COMMAND's processes and warned about once, at once.
#[test]
fn jwrap_warns_at_once_about_a_jvm_that_got_none_of_its_flags() {
    let programs = match java_programs() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let script = format!(
        "env -u JAVA_TOOL_OPTIONS java -XX:+UseSerialGC -cp '{}' Idle 6000",
        programs.display()
    );
    let java_home = std::env::var_os("JAVA_HOME");
    let mut command = jwrap();
    command
        .args([
            "--memory-limit",
            "256m",
            "--cpus",
            "1",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    if let Some(home) = java_home {
        command.env("JAVA_HOME", home);
    }
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // The warning must come while the JVM runs (it runs 6 s), not at its end.
    let reader = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader};
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            lines.push((started.elapsed(), line));
        }
        lines
    });
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    let warnings: Vec<&(Duration, String)> = lines
        .iter()
        .filter(|(_, l)| l.contains("does not run as planned"))
        .collect();
    if lines.iter().any(|(_, l)| l.contains("no JDK")) {
        eprintln!("skipped: jwrap found no JDK: {lines:?}");
        return;
    }
    assert!(status.success(), "{status}: {lines:?}");
    assert_eq!(warnings.len(), 1, "{lines:?}");
    let (when, text) = warnings[0];
    assert!(*when < Duration::from_secs(5), "late: {when:?}");
    assert!(text.contains("none of jwrap's flags"), "{text}");
}

/// A JVM that runs as planned (COMMAND is java, jwrap's flags on its command line) gets no
/// warning, however early the watch reads its performance data.
#[test]
fn no_warning_for_a_jvm_that_runs_as_planned() {
    let programs = match java_programs() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let output = jwrap()
        .args(["--memory-limit", "256m", "--cpus", "1", "--", "java", "-cp"])
        .arg(&programs)
        .args(["Idle", "3000"])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("no JDK") {
        eprintln!("skipped: jwrap found no JDK: {stderr}");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("does not run as planned"), "{stderr}");
}

/// The OOM explanation with what the JVM reported: it names the java process a script ran, its
/// real heap and the option that set it, and advises lowering that option.
#[test]
fn the_oom_explanation_uses_what_the_jvm_ran_with() {
    use jwrap::cgroup::events::{Count, MemoryEvents};
    use jwrap::init::ChildExit;
    use jwrap::limits::{Limit, Source};
    use jwrap::oom::{Death, explain};
    use jwrap::plan::{HeapDecidedBy, JavaHeap};
    let events = |kills: u64| MemoryEvents {
        oom_kills: Some(Count {
            value: kills,
            path: "/sys/fs/cgroup/memory.events".to_string(),
        }),
        limit_hits: None,
        peak: None,
    };
    let (before, after) = (events(0), events(1));
    let limit = Limit::Set {
        value: 256 << 20,
        source: Source::file("/sys/fs/cgroup/memory.max", "268435456"),
    };
    let heap = JavaHeap {
        command_is_java: false,
        decided_by: HeapDecidedBy::Jwrap {
            flag: "-Xmx90m".to_string(),
            delivery: "JAVA_TOOL_OPTIONS".to_string(),
        },
    };
    let ran = observed(Collector::G1, 300, "-Xmx90m -XX:+UseG1GC -Xmx300m");
    let text = explain(&Death {
        exit: ChildExit::Signaled(libc::SIGKILL),
        program: "/usr/share/tomcat10/bin/catalina.sh",
        before: Some(&before),
        after: Some(&after),
        enforced: &limit,
        sized_for: &limit,
        heap: Some(&heap),
        heap_percent: None,
        jvm: Some(&ran),
        finding: None,
        unseen: None,
    })
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(
            "java (pid 42, the JVM that /usr/share/tomcat10/bin/catalina.sh ran) was killed"
        ),
        "{text}"
    );
    assert!(
        text.contains("Heap: up to 300 MiB with G1 (from -Xmx300m, not jwrap's)"),
        "{text}"
    );
    assert!(text.contains("To fix: lower -Xmx300m"), "{text}");
}
