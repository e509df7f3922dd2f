//! The command-line contract (doc/contract.md), through the real binary: exit 125 and a `jwrap: ` message
//! for bad options and values (from the command line or a `JWRAP_*` variable), the option beating
//! its variable, overrides shown by `info`, `--help` and `--version`, 126/127 for commands that
//! cannot run, and nothing from jwrap on stdout when it runs a command.

use crate::util::{fixture, jwrap};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

/// jwrap's exit code for its own failures.
const USAGE: i32 = 125;

/// Every option of doc/contract.md with its variable.
const OPTIONS: [(&str, &str); 18] = [
    ("--root", "JWRAP_ROOT"),
    ("--memory-limit", "JWRAP_MEMORY_LIMIT"),
    ("--cpus", "JWRAP_CPUS"),
    ("--heap-percent", "JWRAP_HEAP_PERCENT"),
    ("--java-flags", "JWRAP_JAVA_FLAGS"),
    ("--runtime-env", "JWRAP_RUNTIME_ENV"),
    ("--memory-watch", "JWRAP_MEMORY_WATCH"),
    ("--memory-report", "JWRAP_MEMORY_REPORT"),
    ("--single-child", "JWRAP_SINGLE_CHILD"),
    ("--rewrite", "JWRAP_REWRITE"),
    ("--kill-after", "JWRAP_KILL_AFTER"),
    ("--drain-timeout", "JWRAP_DRAIN_TIMEOUT"),
    ("--term-delay", "JWRAP_TERM_DELAY"),
    ("--success-exit", "JWRAP_SUCCESS_EXIT"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL"),
    ("--exec", "JWRAP_EXEC"),
    ("--verbose", "JWRAP_VERBOSE"),
    ("--quiet", "JWRAP_QUIET"),
];

/// (option, variable, bad value): each must be refused, from the option and from the variable.
const BAD_VALUES: &[(&str, &str, &str)] = &[
    ("--memory-watch", "JWRAP_MEMORY_WATCH", "maybe"),
    ("--memory-watch", "JWRAP_MEMORY_WATCH", ""),
    ("--memory-report", "JWRAP_MEMORY_REPORT", ""),
    (
        "--memory-report",
        "JWRAP_MEMORY_REPORT",
        "/nonexistent-jwrap-dir/report.jsonl",
    ),
    ("--memory-limit", "JWRAP_MEMORY_LIMIT", "-1"),
    ("--memory-limit", "JWRAP_MEMORY_LIMIT", "0"),
    ("--memory-limit", "JWRAP_MEMORY_LIMIT", "12x"),
    ("--memory-limit", "JWRAP_MEMORY_LIMIT", ""),
    ("--cpus", "JWRAP_CPUS", "-1"),
    ("--cpus", "JWRAP_CPUS", "0"),
    ("--cpus", "JWRAP_CPUS", "12x"),
    ("--cpus", "JWRAP_CPUS", ""),
    ("--heap-percent", "JWRAP_HEAP_PERCENT", "0"),
    ("--heap-percent", "JWRAP_HEAP_PERCENT", "75x"),
    ("--java-flags", "JWRAP_JAVA_FLAGS", "sometimes"),
    ("--java-flags", "JWRAP_JAVA_FLAGS", ""),
    ("--runtime-env", "JWRAP_RUNTIME_ENV", "maybe"),
    ("--rewrite", "JWRAP_REWRITE", "TERM"),
    ("--rewrite", "JWRAP_REWRITE", "TERM:NOPE"),
    ("--rewrite", "JWRAP_REWRITE", "KILL:TERM"),
    ("--kill-after", "JWRAP_KILL_AFTER", "-1"),
    ("--kill-after", "JWRAP_KILL_AFTER", "soon"),
    ("--drain-timeout", "JWRAP_DRAIN_TIMEOUT", "-2"),
    ("--drain-timeout", "JWRAP_DRAIN_TIMEOUT", "x"),
    ("--term-delay", "JWRAP_TERM_DELAY", "-1"),
    ("--term-delay", "JWRAP_TERM_DELAY", "1s"),
    ("--success-exit", "JWRAP_SUCCESS_EXIT", "256"),
    ("--success-exit", "JWRAP_SUCCESS_EXIT", "-1"),
    ("--success-exit", "JWRAP_SUCCESS_EXIT", "abc"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "NOPE"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "0"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "65"),
    // KILL and STOP would kill or stop jwrap, CHLD never reaches the command, a terminal stop
    // would stop it with no shell to resume it.
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "KILL"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "SIGSTOP"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "17"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "TSTP"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "RTMIN+-0"),
    ("--pdeath-signal", "JWRAP_PDEATH_SIGNAL", "RTMIN++3"),
    ("--rewrite", "JWRAP_REWRITE", "CHLD:TERM"),
    ("--rewrite", "JWRAP_REWRITE", "TERM:RTMAX-+1"),
    ("--root", "JWRAP_ROOT", "/definitely/not/a/directory"),
    ("--single-child", "JWRAP_SINGLE_CHILD", "perhaps"),
];

fn run(command: &mut Command) -> Output {
    command.output().expect("run jwrap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 125, nothing on stdout (so the command did not run), and stderr made of `jwrap: `
/// lines.
fn assert_usage_error(output: &Output, what: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(USAGE),
        "{what}: stderr {stderr:?}"
    );
    assert!(
        output.stdout.is_empty(),
        "{what}: stdout {:?}",
        text(&output.stdout)
    );
    assert!(!stderr.is_empty(), "{what}: no message");
    for line in stderr.lines() {
        assert!(line.starts_with("jwrap: "), "{what}: stderr line {line:?}");
    }
}

/// A command that would show on stdout if it ran.
const PROBE: [&str; 3] = ["sh", "-c", "echo the command ran"];

#[test]
fn bad_values_of_options_exit_125() {
    for &(option, _, value) in BAD_VALUES {
        // `--single-child` takes no value: `--single-child=perhaps` is the bad form.
        let output = run(jwrap()
            .arg(format!("{option}={value}"))
            .arg("--")
            .args(PROBE));
        assert_usage_error(&output, &format!("{option}={value}"));
    }
    // The separate-word form, for the values that look like options.
    for (option, value) in [
        ("--memory-limit", "-1"),
        ("--cpus", "-1"),
        ("--memory-limit", ""),
    ] {
        let output = run(jwrap().args([option, value, "--"]).args(PROBE));
        assert_usage_error(&output, &format!("{option} {value:?}"));
    }
}

#[test]
fn bad_values_of_variables_exit_125() {
    for &(_, variable, value) in BAD_VALUES {
        let output = run(jwrap().env(variable, value).arg("--").args(PROBE));
        assert_usage_error(&output, &format!("{variable}={value}"));
        // The same for `info`, which reads the same settings.
        let output = run(jwrap().env(variable, value).arg("info"));
        assert_usage_error(&output, &format!("{variable}={value} info"));
    }
}

/// A value with a newline and other control characters, which would forge a line of jwrap's.
const FORGING: &str = "1g\njwrap: warning: forged\r\u{1b}[2J";

/// Exactly one line on stderr, with the control characters shown escaped.
fn assert_one_escaped_line(output: &Output, what: &str) {
    assert_usage_error(output, what);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr:?}");
    assert!(
        stderr.contains("\\n") && stderr.contains("\\u{1b}") && !stderr.contains('\r'),
        "{what}: {stderr:?}"
    );
}

#[test]
fn control_characters_in_values_are_escaped_in_messages() {
    for option in ["--memory-limit", "--cpus", "--pdeath-signal", "--rewrite"] {
        let output = run(jwrap().args([option, FORGING, "--"]).args(PROBE));
        assert_one_escaped_line(&output, option);
    }
    let output = run(jwrap().env("JWRAP_CPUS", FORGING).arg("--").args(PROBE));
    assert_one_escaped_line(&output, "JWRAP_CPUS");
    let output = run(jwrap().args(["--root", FORGING, "info"]));
    assert_one_escaped_line(&output, "--root");
    // An unknown option is echoed by the parser's own message.
    let output = run(jwrap().args([&format!("--x{FORGING}"), "true"]));
    assert_eq!(output.status.code(), Some(USAGE));
    let stderr = text(&output.stderr);
    assert!(
        !stderr
            .lines()
            .any(|line| line.contains("warning: forged") && !line.contains("\\n")),
        "{stderr:?}"
    );
}

#[test]
fn an_unknown_option_exits_125() {
    for args in [
        &["--bogus", "--", "true"][..],
        &["--bogus", "true"],
        &["-Z", "true"],
        &["info", "--bogus"],
        &["--memory-limit", "1g", "--bogus", "java", "-version"],
    ] {
        assert_usage_error(&run(jwrap().args(args)), &format!("{args:?}"));
    }
}

#[test]
fn no_command_exits_125() {
    for args in [&[][..], &["--"], &["-v"], &["--memory-limit", "1g", "--"]] {
        assert_usage_error(&run(jwrap().args(args)), &format!("{args:?}"));
    }
}

#[test]
fn help_and_version_go_to_stdout_with_exit_0() {
    for flag in ["--help", "-h", "--version", "-V"] {
        let output = run(jwrap().arg(flag));
        assert_eq!(output.status.code(), Some(0), "{flag}");
        assert!(
            output.stderr.is_empty(),
            "{flag}: stderr {:?}",
            text(&output.stderr)
        );
        assert!(!output.stdout.is_empty(), "{flag}: nothing on stdout");
    }
    let version = text(&run(jwrap().arg("--version")).stdout);
    assert_eq!(
        version.trim(),
        format!("jwrap {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The lines of `--help` that describe `option`: the line that starts with it (after a short
/// form such as `-v,`) and its continuation lines.
fn help_entry<'a>(help: &'a str, option: &str) -> Option<Vec<&'a str>> {
    let starts_with_option = |line: &str| {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        let short = first.strip_suffix(',');
        let long = if short.is_some() {
            words.next().unwrap_or_default()
        } else {
            first
        };
        short == Some(option) || long == option || long.starts_with(&format!("{option}="))
    };
    let lines: Vec<&str> = help.lines().collect();
    let start = lines.iter().position(|line| starts_with_option(line))?;
    let entry = lines[start..]
        .iter()
        .enumerate()
        .take_while(|(index, line)| {
            *index == 0 || !(line.trim_start().starts_with('-') || line.trim().is_empty())
        })
        .map(|(_, line)| *line)
        .collect();
    Some(entry)
}

#[test]
fn help_lists_every_option_with_its_variable() {
    let help = text(&run(jwrap().arg("--help")).stdout);
    for (option, variable) in OPTIONS {
        let entry = help_entry(&help, option)
            .unwrap_or_else(|| panic!("--help does not list {option}:\n{help}"));
        assert!(
            entry.join(" ").contains(variable),
            "--help does not give {variable} for {option}: {entry:?}"
        );
    }
    for short in ["-v", "-q"] {
        assert!(
            help_entry(&help, short).is_some(),
            "--help does not list {short}"
        );
    }
    assert!(
        help.contains("info"),
        "--help does not mention the info command"
    );
}

#[test]
fn help_entries_are_found_only_for_listed_options() {
    let help = "  -v, --verbose  Log, unlike --root [env: JWRAP_VERBOSE=]\n      \
                --root <DIR>  Read\n          more [env: JWRAP_ROOT=]\n      --cpus <N>  Use\n";
    assert_eq!(help_entry(help, "--root").map(|e| e.len()), Some(2));
    assert!(help_entry(help, "--root").is_some_and(|e| e.join(" ").contains("JWRAP_ROOT")));
    assert!(help_entry(help, "--verbose").is_some_and(|e| e.join(" ").contains("JWRAP_VERBOSE")));
    assert!(help_entry(help, "-v").is_some());
    assert!(help_entry(help, "--cpus").is_some_and(|e| !e.join(" ").contains("JWRAP_")));
    assert_eq!(help_entry(help, "--exec"), None);
}

/// `jwrap info --json --root FIXTURE` with extra arguments before `info` and variables.
fn info_json(before: &[&str], after: &[&str], variables: &[(&str, &str)]) -> Value {
    let root = fixture("docker-v2-limit-above-host");
    let mut command = jwrap();
    command
        .args(before)
        .args(["info", "--json", "--root"])
        .arg(&root)
        .args(after);
    for (name, value) in variables {
        command.env(name, value);
    }
    let output = run(&mut command);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr {:?}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn memory_limit_override_shows_in_info() {
    let from_option = info_json(&[], &["--memory-limit", "1.5Gi"], &[]);
    assert_eq!(from_option["memory"]["limit_bytes"], 1_610_612_736u64);
    assert_eq!(from_option["memory"]["source"], "--memory-limit");
    let from_variable = info_json(&[], &[], &[("JWRAP_MEMORY_LIMIT", "1.5Gi")]);
    assert_eq!(from_variable["memory"]["limit_bytes"], 1_610_612_736u64);
    assert_eq!(from_variable["memory"]["source"], "JWRAP_MEMORY_LIMIT");
    for (given, bytes) in [
        ("536870912", 536_870_912u64),
        ("512m", 512 << 20),
        ("512Mi", 512 << 20),
        ("1g", 1 << 30),
    ] {
        assert_eq!(
            info_json(&[], &["--memory-limit", given], &[])["memory"]["limit_bytes"],
            bytes,
            "{given}"
        );
    }
}

#[test]
fn cpus_override_shows_in_info() {
    // The fixture's host has 8 CPUs and a quota of 16: the override decides.
    let from_option = info_json(&[], &["--cpus", "1.5"], &[]);
    assert_eq!(from_option["cpu"]["limit"], 1.5);
    assert_eq!(from_option["cpu"]["effective"], 2);
    assert_eq!(from_option["cpu"]["source"], "--cpus");
    let from_variable = info_json(&[], &[], &[("JWRAP_CPUS", "1.5")]);
    assert_eq!(from_variable["cpu"]["limit"], 1.5);
    assert_eq!(from_variable["cpu"]["effective"], 2);
    assert_eq!(from_variable["cpu"]["source"], "JWRAP_CPUS");
    let millicores = info_json(&[], &["--cpus", "500m"], &[]);
    assert_eq!(millicores["cpu"]["limit"], 0.5);
    assert_eq!(millicores["cpu"]["effective"], 1);
}

#[test]
fn an_option_beats_its_variable() {
    let both = info_json(
        &[],
        &["--memory-limit", "512m", "--cpus", "3"],
        &[("JWRAP_MEMORY_LIMIT", "1g"), ("JWRAP_CPUS", "1.5")],
    );
    assert_eq!(both["memory"]["limit_bytes"], 536_870_912u64);
    assert_eq!(both["memory"]["source"], "--memory-limit");
    assert_eq!(both["cpu"]["limit"], 3.0);
    assert_eq!(both["cpu"]["source"], "--cpus");
}

#[test]
fn a_good_option_wins_over_a_bad_variable() {
    // The variable's value is never used, so it cannot be an error: when running a command...
    let output = run(jwrap().env("JWRAP_MEMORY_LIMIT", "12x").args([
        "--memory-limit",
        "512m",
        "--",
        "true",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // ...and in `info`, with the option before or after it.
    for (before, after) in [
        (&["--memory-limit", "512m"][..], &[][..]),
        (&[], &["--memory-limit", "512m"]),
    ] {
        let report = info_json(before, after, &[("JWRAP_MEMORY_LIMIT", "12x")]);
        assert_eq!(report["memory"]["limit_bytes"], 536_870_912u64);
    }
}

#[test]
fn the_root_variable_is_the_root_option() {
    let root = fixture("docker-v2-limit-above-host");
    let output = run(jwrap().env("JWRAP_ROOT", &root).args(["info", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let from_variable: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(from_variable["cpu"]["limit"], 16.0);
    assert_eq!(from_variable["root"], root.to_string_lossy().as_ref());
    let from_option = info_json(&[], &[], &[]);
    assert_eq!(from_variable["cpu"], from_option["cpu"]);
    assert_eq!(from_variable["memory"], from_option["memory"]);
}

#[test]
fn options_before_info_apply_to_it() {
    let root = fixture("docker-v2-limit-above-host");
    let output =
        run(jwrap()
            .arg("--root")
            .arg(&root)
            .args(["--memory-limit", "1g", "info", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["root"], root.to_string_lossy().as_ref());
    assert_eq!(report["memory"]["limit_bytes"], 1u64 << 30);
}

#[test]
fn variables_set_to_1_turn_flags_on() {
    // doc/contract.md writes these as JWRAP_SINGLE_CHILD=1 and so on.
    for variable in [
        "JWRAP_SINGLE_CHILD",
        "JWRAP_EXEC",
        "JWRAP_VERBOSE",
        "JWRAP_QUIET",
    ] {
        let output = run(jwrap()
            .env(variable, "1")
            .args(["--", "sh", "-c", "exit 7"]));
        assert_eq!(
            output.status.code(),
            Some(7),
            "{variable}=1: {}",
            text(&output.stderr)
        );
        assert!(
            output.stdout.is_empty(),
            "{variable}=1: stdout {:?}",
            text(&output.stdout)
        );
    }
}

#[test]
fn runtime_env_takes_on_or_off() {
    for args in [
        &["--runtime-env", "off"][..],
        &["--runtime-env=off"],
        &["--runtime-env", "on"],
    ] {
        let output = run(jwrap().args(args).args(["--", "sh", "-c", "exit 7"]));
        assert_eq!(
            output.status.code(),
            Some(7),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    let output = run(jwrap()
        .env("JWRAP_RUNTIME_ENV", "off")
        .args(["--", "sh", "-c", "exit 7"]));
    assert_eq!(
        output.status.code(),
        Some(7),
        "JWRAP_RUNTIME_ENV=off: {}",
        text(&output.stderr)
    );
}

/// Exit `code` and one `jwrap: ` line on stderr that names `program`; nothing on stdout.
fn assert_cannot_run(output: &Output, code: i32, program: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{program}: {stderr:?}");
    assert!(
        output.stdout.is_empty(),
        "{program}: stdout {:?}",
        text(&output.stdout)
    );
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with("jwrap: ") && line.contains(program)),
        "{program}: no jwrap: message naming it in {stderr:?}"
    );
}

#[test]
fn double_dash_info_runs_a_command_named_info() {
    let empty_path = tempfile::tempdir().expect("temporary directory");
    let output = run(jwrap().env("PATH", empty_path.path()).args(["--", "info"]));
    assert_cannot_run(&output, 127, "info");
}

#[test]
fn a_missing_command_exits_127() {
    assert_cannot_run(
        &run(jwrap().args(["--", "jwrap-test-no-such-command"])),
        127,
        "jwrap-test-no-such-command",
    );
    assert_cannot_run(
        &run(jwrap().args(["--", "/nonexistent/dir/tool"])),
        127,
        "/nonexistent/dir/tool",
    );
    assert_cannot_run(
        &run(jwrap().arg("jwrap-test-no-such-command")),
        127,
        "jwrap-test-no-such-command",
    );
}

#[test]
fn a_command_that_cannot_be_executed_exits_126() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // No execute bit for anyone: even root cannot run it.
    let script = dir.path().join("not-executable.sh");
    fs::write(&script, "#!/bin/sh\necho ran\n").expect("write script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).expect("chmod 644");
    let script_text = script.to_string_lossy().into_owned();
    assert_cannot_run(&run(jwrap().arg("--").arg(&script)), 126, &script_text);
    // A directory is found but cannot be executed.
    let dir_text = dir.path().to_string_lossy().into_owned();
    assert_cannot_run(&run(jwrap().arg("--").arg(dir.path())), 126, &dir_text);
}

#[test]
fn jwrap_writes_nothing_to_stdout_when_running_a_command() {
    for args in [
        &["--", "true"][..],
        &["-v", "--", "true"],
        &["--memory-limit", "1g", "--cpus", "2", "--", "true"],
    ] {
        let output = run(jwrap().args(args));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            output.stdout.is_empty(),
            "{args:?}: stdout {:?}",
            text(&output.stdout)
        );
    }
    // What the command writes arrives unchanged, with nothing added.
    let output = run(jwrap().args(["--", "printf", "a\\nb"]));
    assert_eq!(output.stdout, b"a\nb");
    // The command's own exit code comes back.
    assert_eq!(
        run(jwrap().args(["--", "sh", "-c", "exit 42"]))
            .status
            .code(),
        Some(42)
    );
}

#[test]
fn the_contract_lists_every_option_and_variable_of_the_clap_definition() {
    let contract = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/contract.md"))
        .expect("doc/contract.md");
    let command = jwrap::cli::command();
    let mut checked = 0;
    for arg in command.get_arguments() {
        let (Some(long), Some(variable)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let variable = variable.to_string_lossy();
        assert!(
            contract.contains(&format!("`--{long}")),
            "doc/contract.md lacks --{long}"
        );
        assert!(
            contract.contains(&format!("`{variable}")),
            "doc/contract.md lacks {variable}"
        );
        checked += 1;
    }
    assert_eq!(checked, OPTIONS.len(), "every option has its variable");
}
