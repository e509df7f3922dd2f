//! The user's own JVM settings, wherever the JVM will find them: `JAVA_TOOL_OPTIONS`,
//! `JDK_JAVA_OPTIONS` (JDK 9+), the command line before the main class (with `@argfiles`,
//! JDK 9+, and `-XX:VMOptionsFile`), the variables start scripts put on that command line
//! (`JAVA_OPTS`, `CATALINA_OPTS`, … when COMMAND is such a script), and `_JAVA_OPTIONS`. A
//! setting found anywhere wins over jwrap's: jwrap neither overrides nor duplicates it.
//!
//! Scanning is pure; the files it needs (`@argfiles`, options files) are read through the
//! function the caller passes, relative to the current directory as the launcher would. A file
//! that cannot be read twice (a pipe, a character device) is never read: it is the JVM's, and
//! what it holds is one of the places jwrap cannot look (`Hidden`).

use crate::units::parse_size;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;

/// Where a setting was found. The JVM applies these in this order, the last one winning:
/// `JAVA_TOOL_OPTIONS`, `JDK_JAVA_OPTIONS`, the command line, `_JAVA_OPTIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    JavaToolOptions,
    JdkJavaOptions,
    CommandLine,
    /// An `@argfile`, by the name given.
    ArgFile(String),
    /// A `-XX:VMOptionsFile=` file, by the name given.
    OptionsFile(String),
    /// A start script's variable (`CATALINA_OPTS`): the script puts it on java's command line.
    Launcher(&'static str),
    JavaOptions,
}

/// The variables real start scripts put on java's command line, in the order they do when one
/// script reads several (the later wins), and who reads them. Only read when COMMAND is not
/// `java` itself: a `java` command line never sees them.
pub const LAUNCHER_VARIABLES: &[(&str, &str)] = &[
    (
        "JAVA_OPTS",
        "Tomcat's catalina.sh, Spring Boot's launch script, Gradle and Maven start scripts, \
         WildFly, Keycloak, Jenkins",
    ),
    ("JAVA_OPTS_APPEND", "run-java.sh images, Keycloak"),
    ("CATALINA_OPTS", "Tomcat's catalina.sh (after JAVA_OPTS)"),
    ("JAVA_OPTIONS", "Jetty's jetty.sh, run-java.sh images"),
    ("JVM_OPTS", "Cassandra, many images' entrypoints"),
    ("KAFKA_HEAP_OPTS", "Kafka's kafka-run-class.sh"),
    ("KAFKA_JVM_PERFORMANCE_OPTS", "Kafka's kafka-run-class.sh"),
    ("KAFKA_OPTS", "Kafka's kafka-run-class.sh"),
    ("ES_JAVA_OPTS", "Elasticsearch"),
    ("LS_JAVA_OPTS", "Logstash"),
    ("SOLR_OPTS", "Solr"),
    ("JVMFLAGS", "ZooKeeper's zkServer.sh"),
    ("SERVER_JVMFLAGS", "ZooKeeper's zkServer.sh"),
    ("HADOOP_OPTS", "Hadoop"),
    ("ACTIVEMQ_OPTS", "ActiveMQ"),
    ("MAVEN_OPTS", "Maven's mvn"),
    ("GRADLE_OPTS", "Gradle's gradle"),
];

/// What a file named by `@argfile` or `-XX:VMOptionsFile` turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    Text(String),
    /// Missing, unreadable, too large: the reason.
    Failed(String),
    /// Not a regular file (a pipe, a FIFO, a character device): reading it would take it from
    /// the JVM, so it was not read. What it is, in words ("a FIFO").
    NotAFile(&'static str),
}

/// A place the JVM's options may come from that jwrap cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// COMMAND is a program that starts java (a start script): it may add options of its own
    /// or from files it reads (a `setenv.sh`). Its name.
    Launcher(String),
    /// An `@argfile` (or options file) jwrap must not read: its name and what it is.
    NotAFile { name: String, kind: &'static str },
}

impl fmt::Display for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hidden::Launcher(program) => write!(
                f,
                "{program} starts java and may give it options jwrap cannot see"
            ),
            Hidden::NotAFile { name, kind } => write!(
                f,
                "{name} is {kind}: left unread for java, which reads it once; jwrap cannot \
                 know the options in it"
            ),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::JavaToolOptions => f.write_str("JAVA_TOOL_OPTIONS"),
            Channel::JdkJavaOptions => f.write_str("JDK_JAVA_OPTIONS"),
            Channel::CommandLine => f.write_str("the command line"),
            Channel::ArgFile(name) => write!(f, "@{name}"),
            Channel::OptionsFile(name) => write!(f, "-XX:VMOptionsFile={name}"),
            Channel::Launcher(name) => f.write_str(name),
            Channel::JavaOptions => f.write_str("_JAVA_OPTIONS"),
        }
    }
}

/// What a user's option sets, as far as jwrap's decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `-Xmx`, `-XX:MaxHeapSize`.
    MaxHeap,
    /// `-Xms`, `-XX:InitialHeapSize`, `-XX:MinHeapSize`: jwrap's `-Xmx` must not be below it.
    InitialHeap,
    /// `-XX:MaxRAM`.
    MaxRam,
    /// `-XX:{Max,Min,Initial}RAMPercentage`, `-XX:{Max,Min,Initial}RAMFraction`.
    RamShare,
    /// `-Xss`, `-XX:ThreadStackSize`.
    StackSize,
    /// `-XX:MaxMetaspaceSize`.
    Metaspace,
    /// `-XX:ReservedCodeCacheSize` and the sizes it must agree with (`InitialCodeCacheSize`,
    /// the segmented code heaps).
    CodeCache,
    /// `-XX:MaxDirectMemorySize`, `-Dsun.nio.MaxDirectMemorySize`.
    DirectMemory,
    /// `-XX:ActiveProcessorCount`.
    ProcessorCount,
    /// `-XX:ParallelGCThreads`, `-XX:ConcGCThreads`, `-XX:CICompilerCount`, the common
    /// fork-join pool's parallelism.
    ThreadCounts,
    /// `-XX:+UseContainerSupport` / `-XX:-UseContainerSupport`.
    ContainerSupport,
    /// `-XX:+UseSerialGC`, `-XX:+UseG1GC` and the other collectors: the GC's own memory
    /// differs by far, so the heap budget follows the user's choice.
    Collector,
}

/// One option the user gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSetting {
    pub knob: Knob,
    /// The option as written: `-Xmx1g`.
    pub option: String,
    pub channel: Channel,
}

impl UserSetting {
    /// The size the option gives, for the options that give one.
    #[must_use]
    pub fn bytes(&self) -> Option<u64> {
        let value = match self.option.split_once('=') {
            Some((_, value)) => value,
            None => ["-Xmx", "-Xms", "-Xss"]
                .iter()
                .find_map(|prefix| self.option.strip_prefix(prefix))?,
        };
        parse_size(value).ok()
    }
}

impl fmt::Display for UserSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (in {})", self.option, self.channel)
    }
}

/// Everything the user set, in the JVM's order of application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSettings {
    pub settings: Vec<UserSetting>,
    /// Files named by `@argfile` or `-XX:VMOptionsFile` that could not be read.
    pub unreadable: Vec<String>,
    /// Where options may come from that jwrap cannot see: then any setting may be in force.
    pub hidden: Vec<Hidden>,
}

impl UserSettings {
    /// The setting of `knob` that the JVM will use: the last one.
    #[must_use]
    pub fn get(&self, knob: Knob) -> Option<&UserSetting> {
        self.settings.iter().rev().find(|s| s.knob == knob)
    }

    /// The user turned container support off (the last word on it is `-XX:-UseContainerSupport`).
    #[must_use]
    pub fn container_support_off(&self) -> Option<&UserSetting> {
        self.get(Knob::ContainerSupport)
            .filter(|s| s.option.starts_with("-XX:-"))
    }
}

/// The option that sets `knob`, or `None` for every other option.
#[must_use]
pub fn classify(option: &str) -> Option<Knob> {
    if option.starts_with("-Xmx") {
        return Some(Knob::MaxHeap);
    }
    if option.starts_with("-Xms") {
        return Some(Knob::InitialHeap);
    }
    if option.starts_with("-Xss") {
        return Some(Knob::StackSize);
    }
    if let Some(property) = option.strip_prefix("-D") {
        let name = property.split('=').next().unwrap_or(property);
        return match name {
            "sun.nio.MaxDirectMemorySize" => Some(Knob::DirectMemory),
            "java.util.concurrent.ForkJoinPool.common.parallelism" => Some(Knob::ThreadCounts),
            _ => None,
        };
    }
    let flag = option.strip_prefix("-XX:")?;
    let name = flag
        .strip_prefix(['+', '-'])
        .unwrap_or_else(|| flag.split('=').next().unwrap_or(flag));
    match name {
        "MaxHeapSize" => Some(Knob::MaxHeap),
        "InitialHeapSize" | "MinHeapSize" => Some(Knob::InitialHeap),
        "MaxRAM" => Some(Knob::MaxRam),
        "MaxRAMPercentage"
        | "MinRAMPercentage"
        | "InitialRAMPercentage"
        | "MaxRAMFraction"
        | "MinRAMFraction"
        | "InitialRAMFraction" => Some(Knob::RamShare),
        "ThreadStackSize" => Some(Knob::StackSize),
        "MaxMetaspaceSize" => Some(Knob::Metaspace),
        "ReservedCodeCacheSize"
        | "InitialCodeCacheSize"
        | "NonNMethodCodeHeapSize"
        | "ProfiledCodeHeapSize"
        | "NonProfiledCodeHeapSize" => Some(Knob::CodeCache),
        "MaxDirectMemorySize" => Some(Knob::DirectMemory),
        "ActiveProcessorCount" => Some(Knob::ProcessorCount),
        "ParallelGCThreads" | "ConcGCThreads" | "CICompilerCount" => Some(Knob::ThreadCounts),
        "UseContainerSupport" => Some(Knob::ContainerSupport),
        _ if flag.starts_with('+') && name.starts_with("Use") && name.ends_with("GC") => {
            Some(Knob::Collector)
        }
        _ => None,
    }
}

/// Where to look. `None` where the JVM will not look (a JDK 8 ignores `JDK_JAVA_OPTIONS`; the
/// command line is only known when COMMAND is `java`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    pub java_tool_options: Option<&'a str>,
    pub jdk_java_options: Option<&'a str>,
    /// The arguments after `java` itself.
    pub command_line: Option<&'a [OsString]>,
    /// The start scripts' variables that are set (`LAUNCHER_VARIABLES`, in that order): only
    /// when COMMAND is not java.
    pub launcher: &'a [(&'static str, String)],
    pub java_options: Option<&'a str>,
    /// The launcher expands `@argfiles` (JDK 9+).
    pub argfiles: bool,
}

/// Collect the user's settings from every source, in the JVM's order.
pub fn scan(sources: &Sources<'_>, read: &dyn Fn(&Path) -> FileRead) -> UserSettings {
    let mut scanner = Scanner {
        found: UserSettings::default(),
        read,
        argfiles: sources.argfiles,
    };
    if let Some(text) = sources.java_tool_options {
        scanner.options(&split_options(text, false), &Channel::JavaToolOptions);
    }
    if let Some(text) = sources.jdk_java_options {
        // The launcher parses JDK_JAVA_OPTIONS like the command line, @argfiles included; it
        // may not name a main class, so everything in it is an option.
        let words = split_options(text, false);
        scanner.launcher_arguments(words.iter().map(String::as_str), &Channel::JdkJavaOptions);
    }
    if let Some(arguments) = sources.command_line {
        let words: Vec<String> = arguments
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        scanner.launcher_arguments(words.iter().map(String::as_str), &Channel::CommandLine);
    }
    for (name, text) in sources.launcher {
        // The script puts them on java's command line, split into words by the shell.
        let words = split_options(text, false);
        scanner.launcher_arguments(words.iter().map(String::as_str), &Channel::Launcher(name));
    }
    if let Some(text) = sources.java_options {
        scanner.options(&split_options(text, false), &Channel::JavaOptions);
    }
    scanner.found
}

/// Launcher options that take the next argument as their value.
const OPTIONS_WITH_A_VALUE: &[&str] = &[
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--enable-native-access",
    "--limit-modules",
    "--add-reads",
    "--add-exports",
    "--add-opens",
    "--patch-module",
    "-d",
    "--describe-module",
    "--source",
];

struct Scanner<'r> {
    found: UserSettings,
    read: &'r dyn Fn(&Path) -> FileRead,
    argfiles: bool,
}

/// Where the launcher is in the argument list.
#[derive(PartialEq)]
enum State {
    Options,
    /// The previous option takes this argument as its value.
    Value,
    /// The main class, `-jar FILE` or `-m MODULE` was seen: the rest belongs to the application.
    Application,
}

impl Scanner<'_> {
    /// Options as the VM reads them (`JAVA_TOOL_OPTIONS`, _`JAVA_OPTIONS`, an options file): every
    /// word is an option.
    fn options(&mut self, words: &[String], channel: &Channel) {
        for word in words {
            self.option(word, channel, false);
        }
    }

    /// One option. `-XX:VMOptionsFile` is followed only where the JVM allows it: on the
    /// launcher's command line, not in the variables the VM reads nor inside another file.
    fn option(&mut self, word: &str, channel: &Channel, options_file_allowed: bool) {
        if let Some(knob) = classify(word) {
            self.found.settings.push(UserSetting {
                knob,
                option: word.to_string(),
                channel: channel.clone(),
            });
        }
        if let Some(file) = word
            .strip_prefix("-XX:VMOptionsFile=")
            .filter(|_| options_file_allowed)
        {
            match (self.read)(Path::new(file)) {
                FileRead::Text(text) => self.options(
                    &split_options(&text, true),
                    &Channel::OptionsFile(file.to_string()),
                ),
                FileRead::Failed(err) => self
                    .found
                    .unreadable
                    .push(format!("-XX:VMOptionsFile={file}: {err}")),
                FileRead::NotAFile(kind) => self.found.hidden.push(Hidden::NotAFile {
                    name: format!("-XX:VMOptionsFile={file}"),
                    kind,
                }),
            }
        }
    }

    /// Arguments as the `java` launcher reads them: options up to the main class (or `-jar
    /// FILE`, `-m MODULE`); `@argfiles` expanded in place.
    fn launcher_arguments<'w>(&mut self, words: impl Iterator<Item = &'w str>, channel: &Channel) {
        let mut state = State::Options;
        for word in words {
            if state == State::Application {
                return;
            }
            match word.strip_prefix('@') {
                Some(file) if self.argfiles && !file.starts_with('@') => {
                    let contents = match (self.read)(Path::new(file)) {
                        FileRead::Text(text) => split_options(&text, true),
                        FileRead::Failed(err) => {
                            // The launcher will fail on it; until then it is one opaque word.
                            self.found.unreadable.push(format!("@{file}: {err}"));
                            state = self.launcher_argument(word, state, channel);
                            continue;
                        }
                        FileRead::NotAFile(kind) => {
                            // Java reads it, once: options, or the main class and more. The
                            // words after it are taken as options, the cautious reading (a
                            // setting found there stands; none is invented).
                            self.found.hidden.push(Hidden::NotAFile {
                                name: format!("@{file}"),
                                kind,
                            });
                            continue;
                        }
                    };
                    let argfile = Channel::ArgFile(file.to_string());
                    for inner in &contents {
                        state = self.launcher_argument(inner, state, &argfile);
                        if state == State::Application {
                            return;
                        }
                    }
                }
                _ => state = self.launcher_argument(word, state, channel),
            }
            if word == "--disable-@files" {
                self.argfiles = false;
            }
        }
    }

    fn launcher_argument(&mut self, word: &str, state: State, channel: &Channel) -> State {
        if state == State::Value {
            return State::Options;
        }
        if word == "-jar" || word == "-m" || word == "--module" {
            // Their value and everything after it belong to the application.
            return State::Application;
        }
        if word.starts_with("--module=") || !word.starts_with('-') {
            return State::Application;
        }
        if OPTIONS_WITH_A_VALUE.contains(&word) {
            return State::Value;
        }
        self.option(word, channel, true);
        State::Options
    }
}

/// Split option text into words the way the JVM does: blanks separate words, single or double
/// quotes group a word (and are removed). In an argument file (`argfile`), `#` starts a comment
/// to the end of the line, and a backslash inside quotes escapes the next character.
#[must_use]
pub fn split_options(text: &str, argfile: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) if argfile && c == '\\' => match chars.next() {
                Some('n') => current.push('\n'),
                Some('t') => current.push('\t'),
                Some('r') => current.push('\r'),
                Some('f') => current.push('\x0c'),
                // A backslash at the end of a line continues the quoted word on the next line,
                // without the next line's leading blanks.
                Some('\n') => {
                    while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                        chars.next();
                    }
                }
                Some(other) => current.push(other),
                None => {}
            },
            Some(_) => current.push(c),
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None if argfile && c == '#' && !in_word => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        break;
                    }
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> FileRead {
        let map: HashMap<String, String> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |path: &Path| match map.get(path.to_string_lossy().as_ref()) {
            Some(text) => FileRead::Text(text.clone()),
            None => FileRead::Failed("missing".to_string()),
        }
    }

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn options(found: &UserSettings) -> Vec<(&str, String)> {
        found
            .settings
            .iter()
            .map(|s| (s.option.as_str(), s.channel.to_string()))
            .collect()
    }

    #[test]
    fn options_are_classified_by_exact_name() {
        let cases = [
            ("-Xmx1g", Some(Knob::MaxHeap)),
            ("-XX:MaxHeapSize=1073741824", Some(Knob::MaxHeap)),
            ("-Xms256m", Some(Knob::InitialHeap)),
            ("-XX:MinHeapSize=64m", Some(Knob::InitialHeap)),
            ("-XX:MaxRAM=2g", Some(Knob::MaxRam)),
            ("-XX:MaxRAMPercentage=75.0", Some(Knob::RamShare)),
            ("-XX:MaxRAMFraction=2", Some(Knob::RamShare)),
            ("-XX:InitialRAMPercentage=50", Some(Knob::RamShare)),
            ("-Xss512k", Some(Knob::StackSize)),
            ("-XX:ThreadStackSize=512", Some(Knob::StackSize)),
            ("-XX:MaxMetaspaceSize=256m", Some(Knob::Metaspace)),
            ("-XX:ReservedCodeCacheSize=64m", Some(Knob::CodeCache)),
            ("-XX:NonNMethodCodeHeapSize=8m", Some(Knob::CodeCache)),
            ("-XX:MaxDirectMemorySize=64m", Some(Knob::DirectMemory)),
            (
                "-Dsun.nio.MaxDirectMemorySize=64m",
                Some(Knob::DirectMemory),
            ),
            ("-XX:ActiveProcessorCount=2", Some(Knob::ProcessorCount)),
            ("-XX:ParallelGCThreads=2", Some(Knob::ThreadCounts)),
            ("-XX:CICompilerCount=2", Some(Knob::ThreadCounts)),
            (
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=3",
                Some(Knob::ThreadCounts),
            ),
            ("-XX:-UseContainerSupport", Some(Knob::ContainerSupport)),
            ("-XX:+UseContainerSupport", Some(Knob::ContainerSupport)),
            ("-XX:MaxRAMx=1", None),
            ("-XX:+UseG1GC", Some(Knob::Collector)),
            ("-XX:+UseSerialGC", Some(Knob::Collector)),
            ("-XX:-UseAdaptiveSizePolicyWithSystemGC", None),
            ("-Dfoo=-Xmx1g", None),
            ("-Xmn64m", None),
            ("-jar", None),
        ];
        for (option, knob) in cases {
            assert_eq!(classify(option), knob, "{option}");
        }
    }

    #[test]
    fn sizes_of_settings() {
        let setting = |option: &str| UserSetting {
            knob: Knob::MaxHeap,
            option: option.to_string(),
            channel: Channel::CommandLine,
        };
        assert_eq!(setting("-Xmx1g").bytes(), Some(1 << 30));
        assert_eq!(
            setting("-XX:MaxDirectMemorySize=64m").bytes(),
            Some(64 << 20)
        );
        assert_eq!(setting("-Xss512k").bytes(), Some(512 << 10));
        assert_eq!(setting("-XX:MaxRAMPercentage=75.0").bytes(), Some(75));
        assert_eq!(setting("-Xmxjunk").bytes(), None);
    }

    #[test]
    fn words_split_like_the_jvm() {
        assert_eq!(
            split_options("  -Xmx1g   -Dx=\"a b\" 'c d'", false),
            ["-Xmx1g", "-Dx=a b", "c d"]
        );
        assert_eq!(split_options("", false), Vec::<String>::new());
        assert_eq!(split_options("-Da=# -Db", false), ["-Da=#", "-Db"]);
        let argfile =
            "# comment -Xmx9g\n-Xmx1g # trailing\n\"-Dmsg=a\\tb\"\n'-Dlong=one \\\n    two'\n";
        assert_eq!(
            split_options(argfile, true),
            ["-Xmx1g", "-Dmsg=a\tb", "-Dlong=one two"]
        );
    }

    #[test]
    fn only_options_before_the_main_class_count() {
        let command = args(&["-Xss1m", "-cp", "-Xmx5g", "Main", "-Xmx1g"]);
        let found = scan(
            &Sources {
                command_line: Some(&command),
                ..Sources::default()
            },
            &files(&[]),
        );
        assert_eq!(
            options(&found),
            [("-Xss1m", "the command line".to_string())]
        );

        for stop in [
            &["-jar", "app.jar"][..],
            &["-m", "mod/Main"],
            &["--module=mod/Main"],
        ] {
            let mut words = vec!["-XX:ActiveProcessorCount=1"];
            words.extend_from_slice(stop);
            words.push("-Xmx1g");
            let command = args(&words);
            let found = scan(
                &Sources {
                    command_line: Some(&command),
                    ..Sources::default()
                },
                &files(&[]),
            );
            assert_eq!(found.get(Knob::MaxHeap), None, "{stop:?}");
            assert!(found.get(Knob::ProcessorCount).is_some(), "{stop:?}");
        }
    }

    #[test]
    fn every_channel_in_the_jvm_order() {
        let command = args(&[
            "-XX:MaxRAMPercentage=50.0",
            "@opts",
            "-jar",
            "app.jar",
            "@late",
        ]);
        let read = files(&[
            (
                "opts",
                "-XX:MaxMetaspaceSize=128m\n-XX:VMOptionsFile=vm.opts",
            ),
            ("vm.opts", "-XX:-UseContainerSupport"),
            ("late", "-Xmx1g"),
            ("jdk.args", "-Xss2m"),
        ]);
        let found = scan(
            &Sources {
                java_tool_options: Some("-Xmx2g -XX:+UseContainerSupport -XX:VMOptionsFile=late"),
                jdk_java_options: Some("-XX:MaxDirectMemorySize=10m @jdk.args"),
                command_line: Some(&command),
                java_options: Some("-XX:ActiveProcessorCount=3"),
                argfiles: true,
                ..Sources::default()
            },
            &read,
        );
        assert_eq!(
            options(&found),
            [
                ("-Xmx2g", "JAVA_TOOL_OPTIONS".to_string()),
                ("-XX:+UseContainerSupport", "JAVA_TOOL_OPTIONS".to_string()),
                (
                    "-XX:MaxDirectMemorySize=10m",
                    "JDK_JAVA_OPTIONS".to_string()
                ),
                ("-Xss2m", "@jdk.args".to_string()),
                ("-XX:MaxRAMPercentage=50.0", "the command line".to_string()),
                ("-XX:MaxMetaspaceSize=128m", "@opts".to_string()),
                (
                    "-XX:-UseContainerSupport",
                    "-XX:VMOptionsFile=vm.opts".to_string()
                ),
                ("-XX:ActiveProcessorCount=3", "_JAVA_OPTIONS".to_string()),
            ]
        );
        assert!(found.container_support_off().is_some());
        assert!(found.unreadable.is_empty());
    }

    #[test]
    fn argfiles_only_where_the_launcher_expands_them() {
        let command = args(&["@opts", "-Xss1m", "Main"]);
        let read = files(&[("opts", "-Xmx1g")]);
        let jdk8 = scan(
            &Sources {
                command_line: Some(&command),
                argfiles: false,
                ..Sources::default()
            },
            &read,
        );
        // JDK 8 takes `@opts` for the main class: nothing after it is an option.
        assert!(jdk8.settings.is_empty());

        let command = args(&["--disable-@files", "@opts", "Main"]);
        let disabled = scan(
            &Sources {
                command_line: Some(&command),
                argfiles: true,
                ..Sources::default()
            },
            &read,
        );
        assert!(disabled.settings.is_empty());

        let command = args(&["@missing", "@@literal", "-Xss1m"]);
        let missing = scan(
            &Sources {
                command_line: Some(&command),
                argfiles: true,
                ..Sources::default()
            },
            &read,
        );
        assert_eq!(missing.unreadable.len(), 1);
        assert!(missing.settings.is_empty(), "@@literal is the main class");
    }

    #[test]
    fn an_argfile_may_hold_the_main_class() {
        let command = args(&["@opts", "-Xmx1g"]);
        let read = files(&[("opts", "-Xss1m -jar app.jar")]);
        let found = scan(
            &Sources {
                command_line: Some(&command),
                argfiles: true,
                ..Sources::default()
            },
            &read,
        );
        assert_eq!(options(&found), [("-Xss1m", "@opts".to_string())]);
    }

    #[test]
    fn the_last_word_on_container_support_wins() {
        let found = scan(
            &Sources {
                java_tool_options: Some("-XX:-UseContainerSupport"),
                java_options: Some("-XX:+UseContainerSupport"),
                ..Sources::default()
            },
            &files(&[]),
        );
        assert!(found.container_support_off().is_none());
    }
}
