//! The user's JVM options: option text as the JVM splits it (variables and argument files),
//! each word classified, and the whole scan over every channel with argument files that hold
//! fuzzed text (and one that cannot be read). Nothing may panic; every setting found must be
//! one `classify` recognises, and a file that cannot be read must be reported as such.
#![no_main]

use arbitrary::Arbitrary;
use jwrap::java::userflags::{FileRead, Sources, classify, scan, split_options};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::path::Path;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    java_tool_options: Option<&'a str>,
    jdk_java_options: Option<&'a str>,
    java_options: Option<&'a str>,
    /// A start script's variable (`JAVA_OPTS`).
    java_opts: Option<&'a str>,
    command_line: Option<Vec<&'a str>>,
    argfiles: bool,
    /// What every readable argument file or options file holds.
    file_text: &'a str,
}

/// The path whose reads fail, as a missing file would.
const UNREADABLE: &str = "/unreadable";
/// The path that is a FIFO: never read.
const FIFO: &str = "/fifo";

fuzz_target!(|input: Input<'_>| {
    for text in [
        input.java_tool_options,
        input.java_options,
        input.java_opts,
        Some(input.file_text),
    ]
    .into_iter()
    .flatten()
    {
        for argfile in [false, true] {
            for word in split_options(text, argfile) {
                let _ = classify(&word);
            }
        }
    }
    let command_line: Option<Vec<OsString>> = input
        .command_line
        .map(|words| words.into_iter().map(OsString::from).collect());
    let launcher: Vec<(&'static str, String)> = input
        .java_opts
        .map(|text| ("JAVA_OPTS", text.to_string()))
        .into_iter()
        .collect();
    let sources = Sources {
        java_tool_options: input.java_tool_options,
        jdk_java_options: input.jdk_java_options,
        command_line: command_line.as_deref(),
        launcher: &launcher,
        java_options: input.java_options,
        argfiles: input.argfiles,
    };
    let read = |path: &Path| -> FileRead {
        if path == Path::new(UNREADABLE) {
            FileRead::Failed("missing".to_string())
        } else if path == Path::new(FIFO) {
            FileRead::NotAFile("a FIFO")
        } else {
            FileRead::Text(input.file_text.to_string())
        }
    };
    let found = scan(&sources, &read);
    for setting in &found.settings {
        assert_eq!(
            classify(&setting.option),
            Some(setting.knob),
            "scan kept {setting:?}, which classify does not give that knob"
        );
    }
});
