//! The command line as data and the configuration made from it, without running jwrap: what
//! clap parses, how values are named in messages, and which values `config::build` refuses.

use jwrap::cli::{self, Parsed, Sub, command, parse};
use jwrap::config::{Config, Environment, UsageError, build};
use jwrap::limits::Source;
use std::ffi::OsString;
use std::time::Duration;

fn parse_strs(args: &[&str]) -> Result<Parsed, clap::Error> {
    parse(args.iter().map(OsString::from))
}

#[test]
fn the_clap_definition_is_consistent() {
    command().debug_assert();
}

#[test]
fn values_are_named_as_the_user_wrote_them() {
    let parsed = parse_strs(&["--cpus", "2", "--", "x"]).unwrap();
    assert_eq!(parsed.name("cpus"), "--cpus");
    assert_eq!(parsed.name("memory_limit"), "--memory-limit");
}

#[test]
fn command_with_and_without_double_dash() {
    let parsed = parse_strs(&["--", "java", "-jar", "app.jar"]).unwrap();
    assert_eq!(parsed.cli.command, ["java", "-jar", "app.jar"]);
    let parsed = parse_strs(&["-v", "java", "-Xss1m", "-v"]).unwrap();
    assert!(parsed.cli.options.verbose);
    assert_eq!(parsed.cli.command, ["java", "-Xss1m", "-v"]);
}

#[test]
fn info_is_a_subcommand_only_before_double_dash() {
    let parsed = parse_strs(&["info", "--json", "--root", "/x", "--", "java"]).unwrap();
    match parsed.cli.subcommand {
        Some(Sub::Info(info)) => {
            assert!(info.json);
            assert_eq!(info.command, ["java"]);
        }
        None => panic!("info not recognised"),
    }
    assert_eq!(parsed.cli.options.root, Some(OsString::from("/x")));
    let parsed = parse_strs(&["--", "info", "--json"]).unwrap();
    assert!(parsed.cli.subcommand.is_none());
    assert_eq!(parsed.cli.command, ["info", "--json"]);
}

#[test]
fn options_before_info_and_valued_switches() {
    let parsed = parse_strs(&["--memory-limit", "512m", "info", "--", "java", "-version"]).unwrap();
    assert!(matches!(parsed.cli.subcommand, Some(Sub::Info(_))));
    assert_eq!(parsed.cli.options.memory_limit.as_deref(), Some("512m"));
    let parsed = parse_strs(&["--runtime-env", "off", "--", "x"]).unwrap();
    assert_eq!(parsed.cli.options.runtime_env, "off");
    assert_eq!(parsed.cli.command, ["x"]);
    let parsed = parse_strs(&["--runtime-env=on", "x"]).unwrap();
    assert_eq!(parsed.cli.options.runtime_env, "on");
}

#[test]
fn repeatable_and_delimited_values() {
    let parsed = parse_strs(&[
        "--rewrite",
        "TERM:QUIT",
        "--rewrite",
        "INT:0,HUP:USR1",
        "--success-exit",
        "143,130",
        "--",
        "x",
    ])
    .unwrap();
    assert_eq!(parsed.cli.options.rewrite.len(), 3);
    assert_eq!(parsed.cli.options.success_exit, ["143", "130"]);
    assert_eq!(parsed.name("rewrite"), "--rewrite");
}

#[test]
fn unknown_options_are_errors() {
    for args in [
        &["--bogus", "--", "x"][..],
        &["--memory-limit"],
        &["info", "--bogus"],
    ] {
        assert!(parse_strs(args).is_err(), "{args:?} was accepted");
    }
}

fn config(args: &[&str]) -> Result<Config, UsageError> {
    let parsed =
        cli::parse(args.iter().map(OsString::from)).map_err(|e| UsageError(e.to_string()))?;
    build(parsed, Environment::default())
}

#[test]
fn run_needs_a_command() {
    assert!(config(&[]).is_err());
    assert!(config(&["-v"]).is_err());
    assert!(config(&["--", ""]).is_err());
    assert!(config(&["info"]).is_ok());
}

#[test]
fn overrides_name_their_option() {
    let config = config(&["--memory-limit", "512m", "--cpus", "1.5", "--", "java"]).unwrap();
    let memory = config.memory_override.unwrap();
    assert_eq!(memory.value(), Some(512 << 20));
    assert_eq!(memory.source().map(Source::origin), Some("--memory-limit"));
    assert_eq!(config.cpus_override.unwrap().value(), Some(1.5));
    assert_eq!(config.supervision.drain_timeout, Duration::from_secs(2));
    assert_eq!(config.supervision.term_delay, Duration::ZERO);
}

#[test]
fn bad_values_are_usage_errors_naming_their_option() {
    for args in [
        &["--memory-limit", "-1", "--", "x"][..],
        &["--memory-limit", "0", "--", "x"],
        &["--memory-limit", "12x", "--", "x"],
        &["--memory-limit", "", "--", "x"],
        &["--cpus", "0", "--", "x"],
        &["--cpus", "-1", "--", "x"],
        &["--java-flags", "sometimes", "--", "x"],
        &["--success-exit", "256", "--", "x"],
        &["--pdeath-signal", "NOPE", "--", "x"],
        &["--rewrite", "KILL:TERM", "--", "x"],
        &["--drain-timeout", "soon", "--", "x"],
    ] {
        let err = config(args)
            .err()
            .unwrap_or_else(|| panic!("{args:?} was accepted"));
        assert!(err.0.starts_with(args[0]), "{args:?}: {}", err.0);
    }
}

#[test]
fn root_must_be_a_directory() {
    assert!(config(&["--root", "/definitely/not/here", "info"]).is_err());
}
