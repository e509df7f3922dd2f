//! The one-value cgroup and /proc files (memory.max, cpu.max, cfs quota and period, cpusets,
//! keyed files, meminfo) and the values users give options (sizes, CPUs, seconds, percents).
//! None may panic; what they accept must be usable.
#![no_main]

use jwrap::cgroup::parse::{
    LimitValue, cfs_quota, cpu_list_count, cpu_max, keyed_u64, limit_value, meminfo_total,
    single_i64, single_u64,
};
use jwrap::units::{parse_cpus, parse_percent, parse_seconds, parse_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Two files at once where a parser takes two (quota and period): split at the first newline.
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));

    if let Some(LimitValue::Value(value)) = limit_value(&text) {
        assert_eq!(single_u64(&text), Some(value));
    }
    let _ = single_i64(&text);
    for quota in [cpu_max(&text), cfs_quota(first, second)]
        .into_iter()
        .flatten()
        .flatten()
    {
        assert!(quota.period_us > 0 && quota.quota_us > 0, "{quota:?}");
        assert!(quota.cpus().is_finite() && quota.cpus() > 0.0, "{quota:?}");
    }
    let _ = cpu_list_count(&text);
    let _ = keyed_u64(&text, "total_rss");
    let _ = keyed_u64(second, first);
    let _ = meminfo_total(&text);

    let _ = parse_size(&text);
    if let Ok(cpus) = parse_cpus(&text) {
        assert!(
            cpus.is_finite() && cpus > 0.0,
            "--cpus {text:?} gave {cpus}"
        );
    }
    let _ = parse_seconds(&text);
    if let Ok(percent) = parse_percent(&text) {
        assert!(
            percent.is_finite(),
            "--heap-percent {text:?} gave {percent}"
        );
    }
});
