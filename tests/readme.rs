//! The README tells the truth: every command it shows runs as written (or is covered by a test
//! or CI step that says so), every option of `jwrap --help` is in its options table with its
//! variable, and the man page and completions in `doc/` are those the clap definition makes now.
//!
//! Commands are read from the README's fenced `sh`, `bash`, `shell` and `console` blocks (in a
//! `console` block, the lines after a `$ ` prompt), split at `&&`, `||`, `;` and `|`, without
//! comments. Each one is checked by the first rule that fits:
//!
//! | command | check |
//! |---|---|
//! | `jwrap info ...`, `jwrap --help`, `jwrap --version` (these run nothing) | run as written from the repository's top directory; exit 0 |
//! | `cargo run [--release] -- ARGS` | as `jwrap ARGS` with the binary under test (the same code) |
//! | any other `jwrap ...`: it starts COMMAND | as `JWRAP_RUNS` says |
//! | anything else | `COVERED` names the test or CI step that runs it |
//!
//! A command no rule fits fails `every_readme_command_runs_or_is_covered`, with what to add.
//! The README is data here: rewrite it freely, and extend the tables when it shows something new.

use crate::examples::{
    JwrapCommand, entrypoint, fake_jdk, instructions, output_within_timeout, repo_dir, succeed,
};
use crate::util::{jwrap, jwrap_path};
use jwrap::cli;
use serde_json::Value;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use tempfile::TempDir;

// The generator itself, so the test writes exactly what `cargo run --example gen_docs` writes.
// Its `main` is for the example binary only.
#[allow(dead_code)]
#[path = "../examples/gen_docs.rs"]
mod gen_docs;

const README: &str = "README.md";

/// How a README command that starts a COMMAND under jwrap is checked.
#[derive(Debug)]
enum Check {
    /// Run it exactly as written, from the repository's top directory; it must exit with this.
    AsWritten { exit: i32 },
    /// Run the same options and COMMAND as `jwrap OPTIONS info -- COMMAND` (which resolves the
    /// same JDK, flags and environment but starts nothing), for the reason given.
    AsInfo(&'static str),
}

/// The `jwrap` commands of the README and of `jwrap --help` that start a COMMAND, as written
/// (quotes included), and how each is checked.
const JWRAP_RUNS: &[(&str, Check)] = &[
    ("jwrap -v -- sh -c 'exit 0'", Check::AsWritten { exit: 0 }),
    (
        "jwrap -- java -jar app.jar",
        Check::AsInfo("the checkout has no app.jar to run"),
    ),
    (
        "jwrap --kill-after 20 -- ./start.sh",
        Check::AsInfo("./start.sh stands for the reader's own start script"),
    ),
];

/// A README command that is not jwrap's and what covers it: `program` is its first word (`./`
/// dropped), or `cargo SUBCOMMAND`, or `cargo run --example NAME`; `by` says what runs it; and
/// `file` must contain `evidence`, so that the claim fails here when that step goes away.
struct Covered {
    program: &'static str,
    by: &'static str,
    file: &'static str,
    evidence: &'static str,
}

const COVERED: &[Covered] = &[
    Covered {
        program: "scripts/setup.sh",
        by: "scripts/test.sh runs it first (step \"set-up\"); CI (.ci/run) runs scripts/test.sh",
        file: "scripts/test.sh",
        evidence: "scripts/setup.sh",
    },
    Covered {
        program: "scripts/test.sh",
        by: "CI: .ci/run runs it",
        file: ".ci/run",
        evidence: "scripts/test.sh",
    },
    Covered {
        program: "scripts/build-static.sh",
        by: "scripts/test.sh, step \"static binary\"",
        file: "scripts/test.sh",
        evidence: "scripts/build-static.sh",
    },
    Covered {
        program: "scripts/release.sh",
        by: "tests/release/run.sh packages the static binaries with it and checks the layout \
             (scripts/test.sh, after the static build)",
        file: "tests/release/run.sh",
        evidence: "scripts/release.sh\" --package",
    },
    Covered {
        program: "cargo run --example gen_docs",
        by: "readme::generated_docs_are_up_to_date runs the same code into a temporary directory",
        file: "tests/readme.rs",
        evidence: "fn generated_docs_are_up_to_date",
    },
    Covered {
        program: "cargo run --example detect_timing",
        by: "scripts/bench-detect.sh",
        file: "scripts/bench-detect.sh",
        evidence: "--example detect_timing",
    },
    Covered {
        program: "docker",
        by: "not run (CI has no Docker daemon): tests/examples.rs runs each Dockerfile's \
             ENTRYPOINT with the real binary; tests/release/run.sh runs the build steps of the \
             top Dockerfile; tests/oci/run.sh runs jwrap in a real OCI container",
        file: "tests/examples.rs",
        evidence: "fn dockerfile(",
    },
    Covered {
        program: "kubectl",
        by: "not run (no cluster in CI): tests/examples.rs checks examples/kubernetes/deployment.yaml",
        file: "tests/examples.rs",
        evidence: "kubernetes/deployment.yaml",
    },
];

fn readme() -> String {
    let path = repo_dir().join(README);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A command found in the README (or in another text in its form): where, its text, its words
/// (quotes removed) and the `NAME=value` assignments in front of it.
#[derive(Debug)]
struct ReadmeCommand {
    /// The text it was found in, for messages: `README.md`, `jwrap --help`.
    source: &'static str,
    line: usize,
    text: String,
    env: Vec<(String, String)>,
    words: Vec<String>,
    /// An unquoted `$` or backquote: the shell would expand it, this test cannot.
    expands: bool,
}

impl ReadmeCommand {
    fn at(&self) -> String {
        format!("{} line {}: `{}`", self.source, self.line, self.text)
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word { text: String, expands: bool },
    Operator,
}

/// Shell words of one command line: quotes ('...', "...", \x) removed, `#` comments dropped,
/// `&&`, `||`, `;`, `|` and `&` as operators.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word: Option<(String, bool)> = None;
    let finish = |word: &mut Option<(String, bool)>, tokens: &mut Vec<Token>| {
        if let Some((text, expands)) = word.take() {
            tokens.push(Token::Word { text, expands });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish(&mut word, &mut tokens),
            '#' if word.is_none() => break,
            '&' | '|' | ';' => {
                finish(&mut word, &mut tokens);
                if matches!(chars.peek(), Some('&' | '|')) {
                    chars.next();
                }
                tokens.push(Token::Operator);
            }
            '\'' => {
                let (text, _) = word.get_or_insert_with(Default::default);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err(format!("unclosed ' in {line}")),
                    }
                }
            }
            '"' => {
                let (text, expands) = word.get_or_insert_with(Default::default);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => text.push(c),
                            Some(c) => {
                                text.push('\\');
                                text.push(c);
                            }
                            None => return Err(format!("unclosed \" in {line}")),
                        },
                        Some(c) => {
                            *expands |= c == '$' || c == '`';
                            text.push(c);
                        }
                        None => return Err(format!("unclosed \" in {line}")),
                    }
                }
            }
            '\\' => {
                let (text, _) = word.get_or_insert_with(Default::default);
                text.extend(chars.next());
            }
            c => {
                let (text, expands) = word.get_or_insert_with(Default::default);
                *expands |= c == '$' || c == '`';
                text.push(c);
            }
        }
    }
    finish(&mut word, &mut tokens);
    Ok(tokens)
}

/// The lines of the README's fenced shell blocks that hold commands, with their line numbers
/// (continuation lines joined, prompts removed).
fn command_lines(readme: &str) -> Vec<(usize, String)> {
    const SHELL_BLOCKS: [&str; 4] = ["sh", "bash", "shell", "console"];
    let mut lines = Vec::new();
    let mut block: Option<String> = None;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in readme.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(fence) = trimmed.strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(fence.trim().to_string()),
            };
            continue;
        }
        let Some(language) = &block else { continue };
        if !SHELL_BLOCKS.contains(&language.as_str()) {
            continue;
        }
        let (number, text) = match pending.take() {
            Some((number, mut text)) => {
                text.push(' ');
                text.push_str(trimmed.trim_start_matches("> "));
                (number, text)
            }
            None if language == "console" => match trimmed.strip_prefix("$ ") {
                Some(command) => (index + 1, command.to_string()),
                None => continue,
            },
            None => (index + 1, trimmed.to_string()),
        };
        match text.strip_suffix('\\') {
            Some(continued) => pending = Some((number, continued.trim_end().to_string())),
            None if !text.is_empty() => lines.push((number, text)),
            None => {}
        }
    }
    lines
}

/// Every command in the fenced shell blocks of `readme`, which `source` names.
fn readme_commands(readme: &str, source: &'static str) -> Vec<ReadmeCommand> {
    let mut commands = Vec::new();
    for (line, text) in command_lines(readme) {
        let tokens = tokenize(&text).unwrap_or_else(|err| panic!("{source} line {line}: {err}"));
        let segments = tokens.split(|token| *token == Token::Operator);
        // The text of each segment, for messages: the line cut at the same operators.
        let texts = shell_segments_text(&text);
        for (segment, segment_text) in segments.zip(texts) {
            let mut words: Vec<(String, bool)> = segment
                .iter()
                .filter_map(|token| match token {
                    Token::Word { text, expands } => Some((text.clone(), *expands)),
                    Token::Operator => None,
                })
                .collect();
            if words.is_empty() {
                continue;
            }
            let assignments = words
                .iter()
                .take_while(|(word, _)| is_assignment(word))
                .count();
            let env = words
                .drain(..assignments)
                .filter_map(|(word, _)| {
                    word.split_once('=')
                        .map(|(name, value)| (name.to_string(), value.to_string()))
                })
                .collect();
            commands.push(ReadmeCommand {
                source,
                line,
                text: segment_text,
                env,
                expands: words.iter().any(|(_, expands)| *expands),
                words: words.into_iter().map(|(word, _)| word).collect(),
            });
        }
    }
    commands
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// `line` cut at the operators outside quotes, comment removed, each part trimmed.
fn shell_segments_text(line: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#')
                if segments
                    .last()
                    .is_some_and(|s| s.is_empty() || s.ends_with(' ')) =>
            {
                break;
            }
            (None, '&' | '|' | ';') => {
                if matches!(chars.peek(), Some('&' | '|')) {
                    chars.next();
                }
                segments.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(segment) = segments.last_mut() {
            segment.push(c);
        }
    }
    segments.iter().map(|s| s.trim().to_string()).collect()
}

/// What a README command is, for checking.
enum Kind {
    /// jwrap with these arguments.
    Jwrap(Vec<String>),
    /// Something else, under this key of `COVERED`.
    Other(String),
}

fn kind(command: &ReadmeCommand) -> Kind {
    let words = &command.words;
    let program = words[0].trim_start_matches("./");
    if program == "jwrap" || program.ends_with("/jwrap") {
        return Kind::Jwrap(words[1..].to_vec());
    }
    if program == "cargo" && words.get(1).is_some_and(|w| w == "run") {
        let cargo_args = words[2..].split(|w| w == "--").next().unwrap_or_default();
        if let Some(at) = cargo_args.iter().position(|w| w == "--example") {
            let example = cargo_args.get(at + 1).cloned().unwrap_or_default();
            return Kind::Other(format!("cargo run --example {example}"));
        }
        let args = match words.iter().position(|w| w == "--") {
            Some(dashes) => words[dashes + 1..].to_vec(),
            None => Vec::new(),
        };
        return Kind::Jwrap(args);
    }
    if program == "cargo" {
        return Kind::Other(format!(
            "cargo {}",
            words.get(1).cloned().unwrap_or_default()
        ));
    }
    Kind::Other(program.to_string())
}

/// jwrap as the README's reader runs it: from the top directory, with the command's variables.
fn jwrap_as_written(command: &ReadmeCommand, args: &[String]) -> Command {
    let mut run = jwrap();
    run.current_dir(repo_dir()).args(args);
    for (name, value) in &command.env {
        run.env(name, value);
    }
    run
}

/// Check one jwrap command; `Err` says what is wrong or missing.
fn check_jwrap(command: &ReadmeCommand, args: &[String]) -> Result<(), String> {
    use clap::error::ErrorKind;
    let at = command.at();
    if command.expands {
        return Err(format!(
            "{at}: a shell expansion ($ or `) that this test cannot run as written; \
             quote it, or show the command in a form that runs"
        ));
    }
    let starts_command = match jwrap::cli::parse(args.iter().map(Into::into)) {
        Ok(parsed) => parsed.cli.subcommand.is_none(),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            false
        }
        Err(err) => return Err(format!("{at}: jwrap rejects it: {err}")),
    };
    if !starts_command {
        // `info`, `--help`, `--version`: they run nothing, so they run as written.
        let output = output_within_timeout(&mut jwrap_as_written(command, args));
        return match output.status.code() {
            Some(0) if !output.stdout.is_empty() => Ok(()),
            _ => Err(format!(
                "{at}: {}\nstdout: {}\nstderr: {}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )),
        };
    }
    let argv: Vec<String> = std::iter::once("jwrap".to_string())
        .chain(args.iter().cloned())
        .collect();
    let check = JWRAP_RUNS.iter().find_map(|(written, check)| {
        let words: Vec<String> = tokenize(written)
            .ok()?
            .into_iter()
            .filter_map(|token| match token {
                Token::Word { text, .. } => Some(text),
                Token::Operator => None,
            })
            .collect();
        (words == argv).then_some(check)
    });
    match check {
        None => Err(format!(
            "{at}: it starts a command; add it to JWRAP_RUNS in tests/readme.rs, saying how \
             to check it (Check::AsWritten with its exit code, or Check::AsInfo with why)"
        )),
        Some(Check::AsWritten { exit }) => {
            let output = output_within_timeout(&mut jwrap_as_written(command, args));
            let verbose = args
                .iter()
                .take_while(|a| *a != "--")
                .any(|a| a == "-v" || a == "--verbose");
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.code() != Some(*exit) {
                Err(format!(
                    "{at}: {} (expected exit code {exit})\nstderr: {stderr}",
                    output.status
                ))
            } else if verbose && !stderr.lines().any(|l| l.starts_with("jwrap: ")) {
                Err(format!("{at}: -v logged nothing on stderr"))
            } else {
                Ok(())
            }
        }
        Some(Check::AsInfo(why)) => {
            let split = JwrapCommand::split(&argv, &at);
            let mut info = jwrap_as_written(command, &[]);
            info.args(&split.options)
                .args(["info", "--"])
                .args(&split.command);
            let output = output_within_timeout(&mut info);
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{at}, checked as `info` ({why}): {}\nstderr: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        }
    }
}

/// Check a command that is not jwrap's against `COVERED`.
fn check_covered(command: &ReadmeCommand, key: &str) -> Result<(), String> {
    let at = command.at();
    let Some(covered) = COVERED.iter().find(|c| c.program == key) else {
        return Err(format!(
            "{at}: `{key}` is not known to tests/readme.rs; add it to COVERED with the test or \
             CI step that runs it (or, if it is jwrap's, write it as `jwrap ...`)"
        ));
    };
    let evidence_file = repo_dir().join(covered.file);
    let evidence = fs::read_to_string(&evidence_file).unwrap_or_default();
    if !evidence.contains(covered.evidence) {
        return Err(format!(
            "{at}: COVERED says it is covered by {}, but {} no longer contains `{}`",
            covered.by, covered.file, covered.evidence
        ));
    }
    // A script of this repository: it must exist, be executable and parse.
    if key.contains('/') {
        let script = repo_dir().join(key);
        let mode = fs::metadata(&script)
            .map_err(|err| format!("{at}: {}: {err}", script.display()))?
            .permissions()
            .mode();
        if mode & 0o111 == 0 {
            return Err(format!("{at}: {} is not executable", script.display()));
        }
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        if !syntax.status.success() {
            return Err(format!(
                "{at}: bash -n: {}",
                String::from_utf8_lossy(&syntax.stderr)
            ));
        }
    }
    Ok(())
}

/// What is wrong with `commands`: one message each for a command that fails its check or that
/// no rule covers.
fn command_problems(commands: &[ReadmeCommand]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|command| {
            match kind(command) {
                Kind::Jwrap(args) => check_jwrap(command, &args),
                Kind::Other(key) => check_covered(command, &key),
            }
            .err()
        })
        .collect()
}

#[test]
fn every_readme_command_runs_or_is_covered() {
    let commands = readme_commands(&readme(), README);
    assert!(
        !commands.is_empty(),
        "no commands found in {README}'s shell blocks: has the parsing in tests/readme.rs gone stale?"
    );
    let problems = command_problems(&commands);
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

/// The examples at the end of `jwrap --help` (and so of the man page) are held to the same rules.
#[test]
fn help_examples_run_or_are_covered() {
    let help = succeed(jwrap().arg("--help"));
    let help = String::from_utf8_lossy(&help.stdout);
    let examples = help
        .split_once("Examples:")
        .map_or("", |(_, rest)| rest)
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.trim().strip_prefix("jwrap "))
        // The command ends where two spaces start its description.
        .map(|line| format!("jwrap {}", line.split("  ").next().unwrap_or_default()));
    let block: String = examples.map(|command| command + "\n").collect();
    let commands = readme_commands(&format!("```sh\n{block}```\n"), "jwrap --help");
    assert!(
        !commands.is_empty(),
        "no examples found in jwrap --help:\n{help}"
    );
    let problems = command_problems(&commands);
    assert!(
        problems.is_empty(),
        "in jwrap --help:\n{}",
        problems.join("\n\n")
    );
}

/// The rules catch what they are for: an unknown program, a jwrap command that starts something
/// but is in no table, and an option jwrap does not have.
#[test]
fn unchecked_readme_commands_fail_with_what_to_add() {
    let readme = "```sh\nfrobnicate --all\njwrap -- sleep 1\njwrap --no-such-option info\n\
                  jwrap info --json\n```\n";
    let problems = command_problems(&readme_commands(readme, "a test README"));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("add it to COVERED"), "{}", problems[0]);
    assert!(
        problems[1].contains("add it to JWRAP_RUNS"),
        "{}",
        problems[1]
    );
    assert!(problems[2].contains("jwrap rejects it"), "{}", problems[2]);
}

#[test]
fn the_command_parser_reads_shell_as_a_shell_would() {
    let words = |line: &str| -> Vec<String> {
        tokenize(line)
            .unwrap()
            .into_iter()
            .map(|token| match token {
                Token::Word { text, .. } => text,
                Token::Operator => "<op>".to_string(),
            })
            .collect()
    };
    assert_eq!(
        words(r"jwrap -v -- sh -c 'exit 0'   # a comment"),
        ["jwrap", "-v", "--", "sh", "-c", "exit 0"]
    );
    assert_eq!(
        words(r#"./a.sh && X="1 2" b\ c || d; e | f"#),
        [
            "./a.sh", "<op>", "X=1 2", "b c", "<op>", "d", "<op>", "e", "<op>", "f"
        ]
    );
    assert_eq!(words("a#b 'c # d'"), ["a#b", "c # d"]);
    assert!(tokenize("echo 'open").is_err());

    let readme = "text\n```sh\nA=1 jwrap info  # c\ncargo run -- \\\n  info --json\n```\n\
                  ```console\n$ jwrap --help\nUsage: ...\n```\n```dockerfile\nRUN x\n```\n";
    let found: Vec<String> = readme_commands(readme, "a test README")
        .iter()
        .map(|c| format!("{} {:?} {:?}", c.line, c.words, c.env))
        .collect();
    assert_eq!(
        found,
        [
            r#"3 ["jwrap", "info"] [("A", "1")]"#,
            r#"4 ["cargo", "run", "--", "info", "--json"] []"#,
            r#"8 ["jwrap", "--help"] []"#,
        ]
    );
    assert_eq!(
        shell_segments_text("./a.sh && b 'x;y' # c"),
        ["./a.sh", "b 'x;y'"]
    );
}

/// Every `jwrap ...` in backquotes in the README's prose parses (usage synopses with `[...]`
/// aside). Prose spans are parsed, not run: they hold placeholders such as DIR.
#[test]
fn inline_jwrap_commands_parse() {
    use clap::error::ErrorKind;
    let readme = readme();
    let spans: Vec<&str> = readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("jwrap ") && !span.contains('['))
        .collect();
    for span in spans {
        let words: Vec<String> = tokenize(span)
            .unwrap_or_else(|err| panic!("`{span}`: {err}"))
            .into_iter()
            .filter_map(|token| match token {
                Token::Word { text, .. } => Some(text),
                Token::Operator => None,
            })
            .collect();
        match jwrap::cli::parse(words[1..].iter().map(Into::into)) {
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
                ) => {}
            Err(err) => panic!("{README}: `{span}` is rejected by jwrap: {err}"),
        }
    }
}

/// Every exec-form ENTRYPOINT the README shows starts jwrap with options it accepts.
#[test]
fn readme_entrypoints_run() {
    let readme = readme();
    for (index, line) in readme.lines().enumerate() {
        let trimmed = line.trim();
        if !trimmed.starts_with("ENTRYPOINT") {
            continue;
        }
        let at = format!("{README} line {}", index + 1);
        let split = JwrapCommand::split(&entrypoint(trimmed, &at), &at);
        succeed(
            jwrap()
                .args(&split.options)
                .args(["info", "--"])
                .args(&split.command),
        );
    }
}

/// The options table: its rows, by the text of their first two cells.
fn options_table(readme: &str) -> Vec<(String, String)> {
    let cells = |line: &str| -> Vec<String> {
        // `\|` is a literal bar inside a cell (`--runtime-env on\|off`).
        line.trim()
            .trim_matches('|')
            .replace("\\|", "\u{0}")
            .split('|')
            .map(|cell| cell.replace('\u{0}', "|").trim().to_string())
            .collect()
    };
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in readme.lines() {
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        let row = cells(line);
        if row.len() >= 2 && row[0] == "option" && row[1] == "environment" {
            in_table = true;
        } else if in_table && !row[0].starts_with("---") && row.len() >= 2 {
            rows.push((row[0].clone(), row[1].clone()));
        }
    }
    rows
}

/// `--name` appears in `cell` as a whole option (followed by a space, a backquote or `=`).
fn mentions_option(cell: &str, option: &str) -> bool {
    cell.match_indices(option).any(|(at, _)| {
        let before = cell[..at].chars().next_back();
        let after = cell[at + option.len()..].chars().next();
        matches!(before, None | Some('`' | ' ')) && matches!(after, None | Some('`' | ' ' | '='))
    })
}

/// What is wrong with `readme`'s options table, measured against the clap definition.
fn options_table_problems(readme: &str) -> Vec<String> {
    let rows = options_table(readme);
    if rows.is_empty() {
        return vec![format!(
            "{README} has no table with the header `| option | environment | ...`"
        )];
    }
    let command = cli::command();
    let mut problems = Vec::new();
    let mut documented = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let option = format!("--{long}");
        documented.push(option.clone());
        let Some(row) = rows.iter().find(|(cell, _)| mentions_option(cell, &option)) else {
            problems.push(format!("{README}'s options table has no row for {option}"));
            continue;
        };
        if let Some(short) = arg.get_short() {
            let short = format!("`-{short}`");
            if !row.0.contains(&short) {
                problems.push(format!("{README}: the row of {option} lacks {short}"));
            }
        }
        if let Some(variable) = arg.get_env() {
            let variable = variable.to_string_lossy();
            if !row.1.contains(variable.as_ref()) {
                problems.push(format!(
                    "{README}: the row of {option} does not name {variable}: {row:?}"
                ));
            }
        }
    }
    // And no row for an option jwrap does not have.
    for (cell, _) in &rows {
        for word in cell.split(['`', ' ', ',']) {
            if word.starts_with("--") && !documented.iter().any(|o| o == word) {
                problems.push(format!(
                    "{README}'s options table has {word}, which jwrap does not know"
                ));
            }
        }
    }
    // The subcommands' own options, somewhere in the README.
    for sub in command.get_subcommands() {
        for long in sub.get_arguments().filter_map(|arg| arg.get_long()) {
            if !readme.contains(&format!("--{long}")) {
                problems.push(format!(
                    "{README} never mentions `{} --{long}`",
                    sub.get_name()
                ));
            }
        }
    }
    problems
}

#[test]
fn every_option_is_in_the_readme_table_with_its_variable() {
    // `--help` is rendered from the same definition; make sure it shows each option too.
    let help = succeed(jwrap().arg("--help"));
    let help = String::from_utf8_lossy(&help.stdout);
    for long in cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_long())
    {
        assert!(
            help.contains(&format!("--{long}")),
            "jwrap --help does not list --{long}"
        );
    }
    let problems = options_table_problems(&readme());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_options_table_check_finds_missing_and_unknown_rows() {
    // A table made from the definition itself, then spoiled one way at a time.
    let command = cli::command();
    let mut table = String::from("| option | environment | meaning |\n|---|---|---|\n");
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let short = arg
            .get_short()
            .map(|s| format!("`-{s}`, "))
            .unwrap_or_default();
        let variable = arg.get_env().map(|v| v.to_string_lossy().into_owned());
        let _ = writeln!(
            table,
            "| {short}`--{long}` | `{}` | |",
            variable.unwrap_or_default()
        );
    }
    let info_options = "`jwrap info [--json]`\n";
    let readme = format!("{table}\n{info_options}");
    assert_eq!(options_table_problems(&readme), Vec::<String>::new());

    let without_exec = readme.replace("| `--exec` | `JWRAP_EXEC` | |\n", "");
    assert_eq!(
        options_table_problems(&without_exec),
        ["README.md's options table has no row for --exec"]
    );
    let wrong_variable = readme.replace("`JWRAP_CPUS`", "`JWRAP_CPU_COUNT`");
    let problems = options_table_problems(&wrong_variable);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("does not name JWRAP_CPUS"),
        "{problems:?}"
    );
    let no_short = readme.replace("`-q`, ", "");
    let problems = options_table_problems(&no_short);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("lacks `-q`"), "{problems:?}");
    let extra = readme.replace(
        "| `--exec` |",
        "| `--print` | `JWRAP_PRINT` | |\n| `--exec` |",
    );
    assert_eq!(
        options_table_problems(&extra),
        ["README.md's options table has --print, which jwrap does not know"]
    );
    let no_json = format!("{table}\n");
    assert_eq!(
        options_table_problems(&no_json),
        ["README.md never mentions `info --json`"]
    );
}

/// The heap arithmetic the README shows is what `jwrap info -- java ...` prints for that limit.
#[test]
fn readme_heap_arithmetic_is_jwraps() {
    let readme = readme();
    let examples: Vec<&str> = readme
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("heap ") && line.contains("= limit "))
        .collect();
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk");
    fake_jdk(&home, "17.0.13");
    for example in examples {
        let limit_mib: u64 = example
            .split("= limit ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("{README}: no limit in `{example}`"));
        let output = succeed(
            jwrap()
                .args(["--memory-limit", &format!("{limit_mib}Mi")])
                .args(["info", "--json", "--", "java", "-jar", "app.jar"])
                .env("PATH", home.join("bin")),
        );
        let info: Value = serde_json::from_slice(&output.stdout).unwrap();
        let arithmetic = info["java"]["heap_budget"]["arithmetic"]
            .as_str()
            .unwrap_or_else(|| panic!("no heap arithmetic: {info:#}"));
        assert!(
            arithmetic.starts_with(example),
            "{README} shows\n  {example}\nbut jwrap computes\n  {arithmetic}"
        );
    }
}

/// `doc/` holds what `cargo run --example gen_docs -- doc` writes from the current clap
/// definition: a changed option cannot leave a stale man page or completion.
#[test]
fn generated_docs_are_up_to_date() {
    let fresh = TempDir::new().unwrap();
    gen_docs::write_docs(fresh.path()).unwrap();
    let committed_dir = repo_dir().join("doc");
    for file in gen_docs::doc_files() {
        let fresh_text = fs::read(fresh.path().join(&file)).unwrap();
        let committed = committed_dir.join(&file);
        let committed_text = fs::read(&committed).unwrap_or_default();
        assert!(
            fresh_text == committed_text,
            "{} is stale: run `cargo run --example gen_docs -- doc` and commit doc/",
            committed.display()
        );
    }
}

/// The man page describes every option, the subcommands' too, with its variable.
#[test]
fn the_man_page_names_every_option_and_variable() {
    let page = fs::read_to_string(repo_dir().join("doc/jwrap.1")).unwrap();
    // Roff writes a hyphen as `\-`.
    let page = page.replace("\\-", "-");
    let command = cli::command();
    let arguments = command.get_arguments().chain(
        command
            .get_subcommands()
            .flat_map(clap::Command::get_arguments),
    );
    let mut checked = 0;
    for arg in arguments {
        let Some(long) = arg.get_long() else { continue };
        assert!(
            page.contains(&format!("--{long}")),
            "doc/jwrap.1 lacks --{long}"
        );
        if let Some(variable) = arg.get_env() {
            let variable = variable.to_string_lossy();
            assert!(
                page.contains(variable.as_ref()),
                "doc/jwrap.1 lacks {variable}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no options found in the clap definition");
}

/// The bash completion, loaded into a real bash, offers every option and the subcommand.
#[test]
fn bash_completion_offers_every_option_and_info() {
    const ASK: &str = r#"source "$1"; shift
        for word in "$@"; do
            COMP_WORDS=(jwrap "$word"); COMP_CWORD=1; COMPREPLY=()
            _jwrap jwrap "$word" jwrap
            printf '%s=%s\n' "$word" "${COMPREPLY[*]}"
        done"#;
    let command = cli::command();
    let mut words: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .map(|long| format!("--{long}"))
        .collect();
    words.extend(
        command
            .get_subcommands()
            .map(|sub| sub.get_name().to_string()),
    );
    let output = match Command::new("bash")
        .args(["-c", ASK, "bash"])
        .arg(repo_dir().join("doc/completions/jwrap.bash"))
        .args(&words)
        .output()
    {
        Ok(output) => output,
        Err(err) => crate::skip!("no bash: {err}"),
    };
    let replies = String::from_utf8_lossy(&output.stdout);
    for word in &words {
        let offered = replies
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{word}=")))
            .unwrap_or_default();
        assert!(
            offered.split_whitespace().any(|w| w == word),
            "bash completes {word} to {offered:?}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// groff reads the man page without a warning.
#[test]
fn the_man_page_renders_without_warnings() {
    let output = match Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(repo_dir().join("doc/jwrap.1"))
        .output()
    {
        Ok(output) => output,
        Err(err) => crate::skip!("no groff: {err}"),
    };
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ------------------------------------------------------------------------------------------
// The README's Dockerfile lines that download a release binary and verify it
// ------------------------------------------------------------------------------------------

/// The README's `dockerfile` block that downloads a release (the one that names SHA256SUMS).
fn readme_download_block(readme: &str) -> String {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim()) {
            (None, "```dockerfile") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    let found: Vec<String> = blocks
        .into_iter()
        .filter(|block| block.contains("SHA256SUMS"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{README}: expected one dockerfile block that downloads and verifies a release"
    );
    found.into_iter().next().unwrap_or_default()
}

/// `${NAME}` and `$NAME` replaced by their values, as Docker expands ARGs in ADD and COPY.
fn expand(text: &str, vars: &[(String, String)]) -> String {
    let mut out = text.to_string();
    // Longest names first, so that `$JWRAP_VERSION` is not taken for `$JWRAP`.
    let mut sorted: Vec<&(String, String)> = vars.iter().collect();
    sorted.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, value) in sorted {
        out = out.replace(&format!("${{{name}}}"), value);
        out = out.replace(&format!("${name}"), value);
    }
    out
}

/// What the README's lines left at the final stage's `COPY --from` source, or why they failed:
/// the first stage run here as Docker would run it, for `arch`, with `release_url` standing for
/// the published files (a directory: ADD's download is a copy from it). ARG, WORKDIR, ADD and
/// RUN are the instructions it may use; RUN lines run with `sh -ec` in the WORKDIR, with the
/// ARGs in their environment, as Docker passes them.
fn run_download_stage(block: &str, arch: &str, release_url: &str) -> Result<Vec<u8>, String> {
    let steps = instructions(block);
    let second_from = steps
        .iter()
        .skip(1)
        .position(|step| step.starts_with("FROM "))
        .map(|index| index + 1)
        .ok_or("the block has no second stage that copies jwrap in")?;
    let (download, final_stage) = steps.split_at(second_from);
    let stage_name = download[0]
        .rsplit_once(" AS ")
        .map(|(_, name)| name.trim().to_string())
        .ok_or("the download stage has no name (FROM ... AS NAME)")?;
    let scratch = TempDir::new().map_err(|err| err.to_string())?;
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut workdir: Option<String> = None;
    let dir = |workdir: &Option<String>| -> Result<std::path::PathBuf, String> {
        let workdir = workdir.as_deref().ok_or("ADD or RUN before WORKDIR")?;
        Ok(scratch.path().join(workdir.trim_start_matches('/')))
    };
    for step in &download[1..] {
        let (instruction, rest) = step.split_once(' ').unwrap_or((step, ""));
        match instruction {
            "ARG" => {
                let (name, default) = rest.split_once('=').unwrap_or((rest, ""));
                let value = match name {
                    "TARGETARCH" => arch.to_string(),
                    "JWRAP_RELEASE_URL" => release_url.to_string(),
                    _ => default.to_string(),
                };
                vars.push((name.to_string(), value));
            }
            "WORKDIR" => {
                workdir = Some(rest.to_string());
                fs::create_dir_all(dir(&workdir)?).map_err(|err| err.to_string())?;
            }
            "ADD" => {
                let words: Vec<String> =
                    rest.split_whitespace().map(|w| expand(w, &vars)).collect();
                let (destination, sources) = words.split_last().ok_or("ADD without files")?;
                if destination != "./" {
                    return Err(format!("ADD to {destination}: expected ./ (the WORKDIR)"));
                }
                for source in sources {
                    let path = source.strip_prefix(release_url).ok_or_else(|| {
                        format!("ADD {source}: not below JWRAP_RELEASE_URL ({release_url})")
                    })?;
                    let name = path.rsplit('/').next().unwrap_or(path);
                    fs::copy(format!("{release_url}{path}"), dir(&workdir)?.join(name))
                        .map_err(|err| format!("ADD {source}: {err}"))?;
                }
            }
            "RUN" => {
                let output = Command::new("sh")
                    .arg("-ec")
                    .arg(rest)
                    .current_dir(dir(&workdir)?)
                    .envs(vars.iter().map(|(name, value)| (name, value)))
                    .output()
                    .map_err(|err| err.to_string())?;
                if !output.status.success() {
                    return Err(format!(
                        "RUN {rest}: {}{}",
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    ));
                }
            }
            other => return Err(format!("{other}: not expected in the download stage")),
        }
    }
    let copy = final_stage
        .iter()
        .find_map(|step| step.strip_prefix(&format!("COPY --from={stage_name} ")))
        .ok_or_else(|| format!("no COPY --from={stage_name} in the last stage"))?;
    let (source, destination) = copy
        .split_once(' ')
        .ok_or("COPY --from needs a source and a destination")?;
    if destination != "/usr/local/bin/jwrap" {
        return Err(format!(
            "COPY puts jwrap at {destination}, not /usr/local/bin/jwrap"
        ));
    }
    let made = scratch.path().join(source.trim_start_matches('/'));
    let mode = fs::metadata(&made)
        .map_err(|err| format!("{source}: {err}"))?
        .permissions()
        .mode();
    if mode & 0o111 != 0o111 {
        return Err(format!("{source} is not executable (mode {mode:o})"));
    }
    fs::read(&made).map_err(|err| format!("{source}: {err}"))
}

/// The release files to serve: `$JWRAP_RELEASE_DIR` (tests/release/run.sh sets it to a layout
/// of the real static binaries), else one made here by `scripts/release.sh --package` from the
/// binary under test (amd64) and target/jwrap-static-arm64, or, before any arm64 build, a copy
/// of the amd64 binary with one more byte standing in for it (its checksum is what matters
/// here; tests/release/run.sh runs this test again on the real one).
fn release_layout(scratch: &TempDir) -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("JWRAP_RELEASE_DIR") {
        return std::path::PathBuf::from(dir);
    }
    let dir = scratch.path().join("release");
    let mut arm64 = repo_dir().join("target/jwrap-static-arm64");
    if !arm64.exists() {
        eprintln!("no target/jwrap-static-arm64: a stand-in file plays the arm64 binary");
        let mut bytes = fs::read(jwrap_path()).expect("the jwrap binary");
        bytes.push(0);
        arm64 = scratch.path().join("arm64-stand-in");
        fs::write(&arm64, bytes).expect("write the stand-in");
    }
    succeed(
        Command::new(repo_dir().join("scripts/release.sh"))
            .arg("--package")
            .arg(&dir)
            .arg(format!("amd64={}", jwrap_path().display()))
            .arg(format!("arm64={}", arm64.display())),
    );
    dir
}

#[test]
fn the_readme_download_lines_fetch_and_verify_each_architecture() {
    let block = readme_download_block(&readme());
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        block.contains(&format!("ARG JWRAP_VERSION={version}")),
        "{README}: the download lines must default to this version ({version}):\n{block}"
    );
    let scratch = TempDir::new().expect("a temporary directory");
    let layout = release_layout(&scratch);
    let served = scratch.path().join("served");
    for arch in ["amd64", "arm64"] {
        // Published files, as a release page serves them.
        let _ = fs::remove_dir_all(&served);
        fs::create_dir_all(&served).expect("mkdir");
        for entry in fs::read_dir(&layout).expect("the release layout") {
            let entry = entry.expect("an entry");
            fs::copy(entry.path(), served.join(entry.file_name())).expect("copy");
        }
        let url = served.to_string_lossy().into_owned();
        let binary = format!("jwrap-{version}-{arch}");
        let expected = fs::read(served.join(&binary)).expect("the release binary");
        let installed = run_download_stage(&block, arch, &url)
            .unwrap_or_else(|why| panic!("{README}, download lines for {arch}: {why}"));
        assert!(
            installed == expected,
            "{arch}: the file installed is not {binary}"
        );
        if arch == "amd64" && cfg!(target_arch = "x86_64") {
            let copy = scratch.path().join("installed");
            fs::write(&copy, &installed).expect("write");
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod");
            let output = succeed(Command::new(&copy).arg("--version"));
            assert!(String::from_utf8_lossy(&output.stdout).starts_with("jwrap "));
        }

        // A file altered on the way (one byte) must stop the build.
        let mut altered = expected.clone();
        let middle = altered.len() / 2;
        altered[middle] ^= 0xff;
        fs::write(served.join(&binary), &altered).expect("alter the served file");
        let result = run_download_stage(&block, arch, &url);
        assert!(
            result.is_err(),
            "{arch}: an altered {binary} passed the README's verification"
        );
    }
}
