//! The man page and the shell completions, generated from the clap definition that parses the
//! command line, so they cannot list an option the binary lacks. Writes, into DIR (default `doc`):
//!
//!     jwrap.1                      the man page: `man ./doc/jwrap.1`
//!     completions/jwrap.bash       bash: source it, or copy to /usr/share/bash-completion/completions/jwrap
//!     completions/_jwrap           zsh: a directory on $fpath
//!     completions/jwrap.fish       fish: ~/.config/fish/completions/
//!
//!     cargo run --example gen_docs -- doc
//!
//! The generators are dev-dependencies: the shipped binary does not carry them. The files in
//! `doc/` are committed; `tests/readme.rs` regenerates them and fails when they are stale.

use clap_complete::Shell;
use jwrap::cli;
use std::fmt::Write;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DEFAULT_DIR: &str = "doc";

/// Each shell and the file name its completion loader looks for.
const COMPLETIONS: [(Shell, &str); 3] = [
    (Shell::Bash, "jwrap.bash"),
    (Shell::Zsh, "_jwrap"),
    (Shell::Fish, "jwrap.fish"),
];

/// The files `write_docs` writes, relative to its directory.
#[must_use]
pub fn doc_files() -> Vec<PathBuf> {
    let completions = Path::new("completions");
    std::iter::once(PathBuf::from("jwrap.1"))
        .chain(COMPLETIONS.iter().map(|(_, name)| completions.join(name)))
        .collect()
}

/// Roff text for one line of plain text: hyphens stay hyphens (`\-`), backslashes stay
/// backslashes, and a line cannot be taken for a request.
fn roff_escape(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// SYNOPSIS from the usage the help shows (`clap_mangen`'s own lists every option without its
/// value, which says less than the two lines of `--help`).
fn synopsis(command: &clap::Command) -> String {
    let usage = command.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage:").unwrap_or(&usage);
    let lines: Vec<String> = usage.lines().map(|l| roff_escape(l.trim())).collect();
    format!(".SH SYNOPSIS\n{}\n", lines.join("\n.br\n"))
}

/// The text after the options (`after_help`), one section per paragraph: "Examples:" on a line
/// of its own starts a section kept line by line; "Exit status: ..." starts a filled one.
fn after_help_sections(command: &clap::Command) -> String {
    let text = command
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut roff = String::new();
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let (first, rest) = paragraph.split_once('\n').unwrap_or((paragraph, ""));
        match first.split_once(':') {
            Some((heading, "")) => {
                let _ = write!(roff, ".SH \"{}\"\n.nf\n", heading.to_uppercase());
                for line in rest.lines() {
                    roff += &roff_escape(line);
                    roff.push('\n');
                }
                roff += ".fi\n";
            }
            Some((heading, start)) => {
                let _ = writeln!(roff, ".SH \"{}\"", heading.to_uppercase());
                // "Exit status: the command's" reads as "The command's" under its heading.
                let mut chars = start.trim().chars();
                let start: String = chars
                    .next()
                    .map(|c| c.to_ascii_uppercase())
                    .into_iter()
                    .chain(chars)
                    .collect();
                for line in std::iter::once(start.as_str()).chain(rest.lines()) {
                    roff += &roff_escape(line);
                    roff.push('\n');
                }
            }
            None => {
                roff += ".PP\n";
                for line in paragraph.lines() {
                    roff += &roff_escape(line);
                    roff.push('\n');
                }
            }
        }
    }
    roff
}

/// The man page: `clap_mangen`'s title, name, description and options; the synopsis and the
/// closing sections from the help text; and the `info` subcommand's own options in a section of
/// their own (`clap_mangen` would refer to a separate jwrap-info(1) page, which one subcommand
/// with one option does not need).
fn man_page() -> io::Result<Vec<u8>> {
    let command = cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    page.extend_from_slice(synopsis(&command).as_bytes());
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    for sub in command.get_subcommands() {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let heading = format!(".SH \"{} COMMAND\"\n", sub.get_name().to_uppercase());
        page.extend_from_slice(heading.as_bytes());
        page.extend_from_slice(format!("{}\n", roff_escape(&about)).as_bytes());
        let mut options = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut options)?;
        // Its options go under this section's heading, not under a second OPTIONS.
        for line in String::from_utf8_lossy(&options).lines() {
            if line != ".SH OPTIONS" {
                page.extend_from_slice(line.as_bytes());
                page.push(b'\n');
            }
        }
    }
    page.extend_from_slice(after_help_sections(&command).as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut command = cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "jwrap", &mut script);
    script
}

/// Write the man page and the completions below `dir`; returns the paths written.
pub fn write_docs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut contents = vec![man_page()?];
    contents.extend(COMPLETIONS.iter().map(|(shell, _)| completion(*shell)));
    let mut written = Vec::new();
    for (relative, text) in doc_files().into_iter().zip(contents) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
    if args.next().is_some() {
        eprintln!("usage: gen_docs [DIR]   (default: {DEFAULT_DIR})");
        return ExitCode::from(2);
    }
    match write_docs(&dir) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gen_docs: cannot write to {}: {err}", dir.display());
            ExitCode::FAILURE
        }
    }
}
