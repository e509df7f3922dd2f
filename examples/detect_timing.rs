//! How long detection itself takes, without process start-up: times `jwrap::cgroup::detect` on
//! this machine's own `/proc` and `/sys`, call by call, and prints the median, the 90th and 99th
//! percentiles and the minimum in microseconds. Used by `scripts/bench-detect.sh`.
//!
//!     cargo run --release --example detect_timing -- [CALLS]     (default 10000)

use jwrap::cgroup::detect;
use jwrap::root::Root;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

const DEFAULT_CALLS: usize = 10_000;
/// Calls not timed first: the page cache and the allocator settle.
const WARMUP_CALLS: usize = 100;

fn main() -> ExitCode {
    let calls = match std::env::args().nth(1).map(|text| text.parse::<usize>()) {
        None => DEFAULT_CALLS,
        Some(Ok(calls)) if calls > 0 => calls,
        Some(_) => {
            eprintln!("usage: detect_timing [CALLS]   (CALLS: a positive number)");
            return ExitCode::from(2);
        }
    };
    let root = Root::host();
    for _ in 0..WARMUP_CALLS {
        black_box(detect(black_box(&root)));
    }
    let mut micros: Vec<f64> = (0..calls)
        .map(|_| {
            let start = Instant::now();
            black_box(detect(black_box(&root)));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    let at = |fraction: f64| {
        // Nearest rank; `calls` > 0, so the index is in range.
        let rank = (fraction * calls as f64).ceil() as usize;
        micros[rank.clamp(1, calls) - 1]
    };
    // One line of `key=value` pairs, for the script to parse.
    println!(
        "calls={calls} median_us={:.1} p90_us={:.1} p99_us={:.1} min_us={:.1}",
        at(0.5),
        at(0.9),
        at(0.99),
        micros[0]
    );
    ExitCode::SUCCESS
}
