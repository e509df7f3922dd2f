//! jwrap: a container entrypoint that detects the container's real memory and CPU limits
//! (cgroup v1, v2, hybrid), sizes the JVM and other runtimes to fit them, and runs the command
//! under a signal-forwarding, zombie-reaping init.
//!
//! The binary is a thin `main` over `app::main`. The pure parts (parsers, layout, decisions)
//! are public so the tests and the property tests can reach them.

pub mod app;
pub mod cgroup;
pub mod cli;
pub mod config;
pub mod gobuildinfo;
pub mod init;
pub mod java;
pub mod launch;
pub mod limits;
pub mod log;
pub mod memwatch;
pub mod oom;
pub mod plan;
pub mod report;
pub mod root;
pub mod runtimes;
pub mod signals;
pub mod units;
