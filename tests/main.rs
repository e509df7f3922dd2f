//! One integration-test binary; each module is one area. Tests that need something this machine
//! lacks (root, writable cgroup v1, a JDK) skip themselves with a printed reason.

mod util;

mod cli;
mod detect;
mod evidence;
mod examples;
mod files;
mod go_real;
mod gobuildinfo;
mod gotools;
mod init;
mod java;
mod jdk_startup;
mod jvm_matrix;
mod jvm_real;
mod jvmcheck;
mod launchers;
mod memwatch;
mod messages;
mod oom;
mod options;
mod parsers;
mod plan;
mod readme;
mod real_cgroup;
mod realcg;
mod resize;
mod runtimes;
mod servers;
