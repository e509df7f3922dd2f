//! Real servers under jwrap in real cgroups, under an allocating load: Debian's Tomcat 10
//! (`catalina.sh run`, options in its variables), Debian's Jetty 9 (`java -jar start.jar`) and
//! a JDK-only service (`java -jar`, tests/java-programs/AllocService.java). Each page allocates
//! 1 MiB per request and keeps the last 32 (tests/servers/alloc.jsp). For each variant: no
//! kernel OOM kill, an orderly stop on SIGTERM, and the user's settings in force, read from the
//! JVM's own performance data.
//!
//! Bounded: one variant per row of `VARIANTS`, run in sequence on at most 2 CPUs, each setting
//! (G1, Parallel, Serial, a heap, a RAM percentage, nothing; container-blind and aware) on each
//! server at least once across 256 and 512 MiB. `JWRAP_SERVER_REQUESTS` sets the load per
//! variant (default 20000); `JWRAP_SERVER_VARIANTS` a comma-separated subset of row numbers.
//! Minutes long, so it runs only with `JWRAP_SERVER_TESTS=1`, as its own step of
//! scripts/test.sh.
//! Needs root, cgroup v1, a JDK, `ab`, and the Debian packages tomcat10 and jetty9
//! (scripts/setup.sh); skips with a message otherwise.

use crate::jvm_real::java_programs;
use crate::realcg::{Limits, Namespaces, RealCgroup};
use crate::skip;
use crate::util::{is_root, jwrap_path};
use jwrap::java::budget::Collector;
use jwrap::java::hsperf;
use jwrap::java::ranwith::Observed;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const MIB: u64 = 1 << 20;
const TOMCAT_HOME: &str = "/usr/share/tomcat10";
const JETTY_HOME: &str = "/usr/share/jetty9";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Server {
    Tomcat,
    Jetty,
    Service,
}

/// What the user set, in the server's own channel (`CATALINA_OPTS` / `JAVA_OPTS` for Tomcat, the
/// command line for the others).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setting {
    Nothing,
    Gc(Collector),
    HeapMib(u64),
    RamPercent(u64),
}

/// (server, limit MiB, setting, container-blind).
const VARIANTS: &[(Server, u64, Setting, bool)] = &[
    (Server::Service, 256, Setting::Nothing, false),
    (Server::Service, 256, Setting::Gc(Collector::G1), true),
    (
        Server::Service,
        512,
        Setting::Gc(Collector::Parallel),
        false,
    ),
    (Server::Service, 256, Setting::RamPercent(40), false),
    (Server::Jetty, 256, Setting::Gc(Collector::Serial), false),
    (Server::Jetty, 512, Setting::Nothing, true),
    (Server::Jetty, 256, Setting::HeapMib(90), false),
    (Server::Tomcat, 256, Setting::Nothing, false),
    (Server::Tomcat, 256, Setting::Gc(Collector::G1), false),
    (Server::Tomcat, 512, Setting::RamPercent(40), true),
    (Server::Tomcat, 256, Setting::Gc(Collector::Parallel), true),
    (Server::Tomcat, 512, Setting::HeapMib(200), false),
];

fn options(setting: Setting, blind: bool) -> Vec<String> {
    let mut options = Vec::new();
    match setting {
        Setting::Nothing => {}
        Setting::Gc(collector) => options.push(format!("-XX:+Use{}GC", collector.name())),
        Setting::HeapMib(mib) => options.push(format!("-Xmx{mib}m")),
        Setting::RamPercent(percent) => options.push(format!("-XX:MaxRAMPercentage={percent}.0")),
    }
    if blind {
        options.push("-XX:-UseContainerSupport".to_string());
    }
    options
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// COMMAND and its environment for `server` on `port`, set up in `dir`; the page's path.
fn prepare(
    server: Server,
    dir: &Path,
    port: u16,
    user: &[String],
) -> (Vec<String>, Vec<(String, String)>, &'static str) {
    let jsp = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/alloc.jsp");
    match server {
        Server::Tomcat => {
            let base = dir.join("tomcat");
            for sub in ["conf", "logs", "work", "temp", "webapps/ROOT"] {
                std::fs::create_dir_all(base.join(sub)).unwrap();
            }
            // The package's pristine configuration, copied (never the live /etc/tomcat10).
            for entry in std::fs::read_dir(Path::new(TOMCAT_HOME).join("etc")).unwrap() {
                let entry = entry.unwrap();
                if entry.path().is_file() {
                    std::fs::copy(entry.path(), base.join("conf").join(entry.file_name())).unwrap();
                }
            }
            let server_xml = base.join("conf/server.xml");
            let text = std::fs::read_to_string(&server_xml)
                .unwrap()
                .replace(
                    "port=\"8080\"",
                    &format!("port=\"{port}\" address=\"127.0.0.1\""),
                )
                .replace("port=\"8005\"", "port=\"-1\"");
            std::fs::write(&server_xml, text).unwrap();
            std::fs::copy(&jsp, base.join("webapps/ROOT/alloc.jsp")).unwrap();
            // JAVA_OPTS for the blindness, CATALINA_OPTS for the rest: both channels read.
            let (blind, rest): (Vec<&String>, Vec<&String>) =
                user.iter().partition(|o| o.contains("ContainerSupport"));
            let join = |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            let env = vec![
                ("CATALINA_HOME".to_string(), TOMCAT_HOME.to_string()),
                ("CATALINA_BASE".to_string(), base.display().to_string()),
                ("JAVA_OPTS".to_string(), join(blind)),
                ("CATALINA_OPTS".to_string(), join(rest)),
            ];
            (
                vec![format!("{TOMCAT_HOME}/bin/catalina.sh"), "run".to_string()],
                env,
                "/alloc.jsp",
            )
        }
        Server::Jetty => {
            let base = dir.join("jetty");
            std::fs::create_dir_all(base.join("webapps/ROOT")).unwrap();
            std::fs::write(
                base.join("start.ini"),
                format!(
                    "--module=http,deploy,jsp\njetty.http.port={port}\njetty.http.host=127.0.0.1\n"
                ),
            )
            .unwrap();
            std::fs::copy(&jsp, base.join("webapps/ROOT/alloc.jsp")).unwrap();
            let mut command = vec!["java".to_string()];
            command.extend(user.iter().cloned());
            command.extend([
                "-jar".to_string(),
                format!("{JETTY_HOME}/start.jar"),
                format!("jetty.home={JETTY_HOME}"),
                format!("jetty.base={}", base.display()),
            ]);
            (command, Vec::new(), "/alloc.jsp")
        }
        Server::Service => {
            let programs = java_programs().unwrap();
            let mut command = vec!["java".to_string()];
            command.extend(user.iter().cloned());
            command.extend([
                "-cp".to_string(),
                programs.display().to_string(),
                "AllocService".to_string(),
                port.to_string(),
            ]);
            (command, Vec::new(), "/")
        }
    }
}

/// The java process in the group, once it has started (its performance data says so).
fn find_jvm(group: &RealCgroup, child: &mut Child, within: Duration) -> Result<Observed, String> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("jwrap ended before the JVM was up: {status}"));
        }
        let procs =
            std::fs::read_to_string(group.memory_dir().join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "java" {
                continue;
            }
            let Some(path) = hsperf::find(Path::new("/tmp"), pid) else {
                continue;
            };
            if let Ok(data) = hsperf::read(&path) {
                if let Some(observed) = Observed::from_perf(pid, "java".to_string(), &data) {
                    return Ok(observed);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("no JVM with performance data in the group".to_string())
}

/// Wait until the page answers 200: Tomcat listens before its application is deployed, and
/// compiles the page on the first request.
fn wait_for_page(port: u16, page: &str, within: Duration) -> bool {
    use std::io::{Read, Write};
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            let request = format!("GET {page} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn oom_kills(group: &RealCgroup) -> u64 {
    std::fs::read_to_string(group.memory_dir().join("memory.oom_control"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// `ab`'s count of a line, e.g. "Complete requests".
fn ab_field(output: &str, field: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// One variant; Err(why) on a failure of the rules.
fn run_variant(
    row: usize,
    server: Server,
    limit_mib: u64,
    setting: Setting,
    blind: bool,
    requests: u64,
) -> Result<String, String> {
    let limits = Limits {
        memory_bytes: Some(limit_mib * MIB),
        cpuset: Some("0-1".to_string()),
        ..Limits::default()
    };
    let group = RealCgroup::create(&format!("servers-{row}"), limits)?;
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let user = options(setting, blind);
    let (command, env, page) = prepare(server, dir.path(), port, &user);
    let mut args = vec!["--".to_string()];
    args.extend(command);
    let log = dir.path().join("log");
    let mut spawn = group.command(Namespaces::Host, jwrap_path(), &args);
    spawn
        .env_remove("JAVA_TOOL_OPTIONS")
        .env_remove("_JAVA_OPTIONS")
        .env_remove("JDK_JAVA_OPTIONS")
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        ));
    for (name, value) in &env {
        spawn.env(name, value);
    }
    let mut child = spawn.spawn().unwrap();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let tail = |text: String| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    let jvm = find_jvm(&group, &mut child, Duration::from_secs(120))
        .map_err(|e| format!("{e}\n{}", tail(log_text())))?;
    if !wait_for_page(port, page, Duration::from_secs(240)) {
        let _ = child.kill();
        return Err(format!("the server did not listen\n{}", tail(log_text())));
    }

    // The user's settings in force, as the JVM reports them.
    match setting {
        Setting::Gc(collector) if jvm.collector != collector => {
            return Err(format!("{collector:?} asked, {:?} runs", jvm.collector));
        }
        Setting::HeapMib(mib) if jvm.max_heap_mib != Some(mib) => {
            return Err(format!("-Xmx{mib}m asked, heap {:?} MiB", jvm.max_heap_mib));
        }
        Setting::RamPercent(percent) => {
            // HotSpot's rule: the share, but at least its default maximum of 124.8 MiB once
            // half the memory exceeds that.
            let want = (limit_mib * percent / 100).max(125);
            let heap = jvm.max_heap_mib.unwrap_or(0);
            if heap + 4 < want || heap > want + 4 {
                return Err(format!(
                    "{percent} % of {limit_mib} MiB asked, heap {heap} MiB"
                ));
            }
        }
        _ => {}
    }
    if blind && !jvm.jvm_args.contains("-XX:-UseContainerSupport") {
        return Err(format!("blindness not in force: {}", jvm.jvm_args));
    }

    let ab = Command::new("ab")
        .args(["-q", "-n", &requests.to_string(), "-c", "50", "-s", "60"])
        .arg(format!("http://127.0.0.1:{port}{page}"))
        .output()
        .map_err(|e| format!("ab: {e}"))?;
    let ab_text = String::from_utf8_lossy(&ab.stdout).into_owned();

    // An orderly stop: SIGTERM to jwrap, which forwards it.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stop_started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stop_started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return Err(format!("no orderly stop within 60 s\n{}", tail(log_text())));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let kills = oom_kills(&group);
    let text = log_text();
    if kills > 0 {
        return Err(format!("{kills} kernel OOM kill(s)\n{}", tail(text)));
    }
    // java exits 143 on SIGTERM after its shutdown hooks ran.
    if !matches!(status.code(), Some(0 | 143)) {
        return Err(format!("exit {status} after SIGTERM\n{}", tail(text)));
    }
    let complete = ab_field(&ab_text, "Complete requests").unwrap_or(0.0);
    if complete < requests as f64 {
        return Err(format!(
            "{complete} of {requests} requests completed\n{ab_text}"
        ));
    }
    Ok(format!(
        "heap {:?} MiB, {}, {} req/s",
        jvm.max_heap_mib,
        jvm.collector.name(),
        ab_field(&ab_text, "Requests per second").unwrap_or(0.0)
    ))
}

fn missing_tools() -> Option<String> {
    if std::env::var_os("JWRAP_SERVER_TESTS").is_none() {
        return Some(
            "a step of its own in scripts/test.sh (minutes long): set JWRAP_SERVER_TESTS=1"
                .to_string(),
        );
    }
    if !is_root() {
        return Some("needs root".to_string());
    }
    for (path, what) in [
        (format!("{TOMCAT_HOME}/bin/catalina.sh"), "tomcat10"),
        (format!("{JETTY_HOME}/start.jar"), "jetty9"),
    ] {
        if !Path::new(&path).exists() {
            return Some(format!("{what} is not installed (scripts/setup.sh)"));
        }
    }
    if Command::new("ab").arg("-V").output().is_err() {
        return Some("ab (apache2-utils) is not installed".to_string());
    }
    java_programs().err()
}

#[test]
fn real_servers_under_load_are_never_killed_and_keep_the_users_settings() {
    if let Some(why) = missing_tools() {
        skip!("{why}");
    }
    if let Err(why) = RealCgroup::create("servers-probe", Limits::default()) {
        skip!("{why}");
    }
    let requests: u64 = std::env::var("JWRAP_SERVER_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let only: Option<Vec<usize>> = std::env::var("JWRAP_SERVER_VARIANTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let mut failures = Vec::new();
    for (row, &(server, limit, setting, blind)) in VARIANTS.iter().enumerate() {
        if only.as_ref().is_some_and(|rows| !rows.contains(&row)) {
            continue;
        }
        let started = Instant::now();
        let name = format!(
            "{row}: {server:?} {limit} MiB {setting:?}{}",
            if blind { " blind" } else { "" }
        );
        match run_variant(row, server, limit, setting, blind, requests) {
            Ok(summary) => eprintln!("servers {name}: ok, {summary}, {:?}", started.elapsed()),
            Err(why) => {
                eprintln!("servers {name}: FAILED: {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
