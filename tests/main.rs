//! One integration-test binary; each module is one area. Tests that need something this machine
//! lacks (root, writable cgroup v1, a JDK) skip themselves with a printed reason.

mod util;

mod cli;
mod detect;
mod examples;
mod init;
mod java;
mod jvm_real;
mod jvmcheck;
mod launchers;
mod oom;
mod parsers;
mod readme;
mod real_cgroup;
mod realcg;
mod runtimes;
mod servers;
