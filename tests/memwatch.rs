//! The memory watch's pure parts: the parsers of what a sample reads, the blame over samples,
//! and the warning for a lowered limit. The real kills are in `evidence.rs`.

use jwrap::java::budget::Collector;
use jwrap::java::ranwith::Observed;
use jwrap::memwatch::blame::{self, Context, Region};
use jwrap::memwatch::sample::{self, Jvm, Process, Sample, Stat};
use jwrap::memwatch::{Sizing, resize_warning};
use jwrap::units::MIB;

const V1_STAT: &str = "cache 1000\nrss 2000\nshmem 10\ntotal_cache 4096000\ntotal_rss 8192000\n\
total_rss_huge 0\ntotal_shmem 40960\ntotal_mapped_file 0\n";
const V2_STAT: &str = "anon 8192000\nfile 4096000\nkernel 123456\nkernel_stack 1000\nshmem 40960\n\
sock 4096\nslab 9999\n";

#[test]
fn memory_stat_reads_the_hierarchical_v1_totals() {
    let stat = sample::memory_stat(V1_STAT, false);
    assert_eq!(stat.anon_bytes, Some(8_192_000));
    assert_eq!(stat.file_bytes, Some(4_096_000));
    assert_eq!(stat.shmem_bytes, Some(40_960));
    assert_eq!(stat.kernel_bytes, None, "v1 keeps no kernel total");
}

#[test]
fn memory_stat_reads_v2_and_sums_kernel_parts_before_5_18() {
    let stat = sample::memory_stat(V2_STAT, true);
    assert_eq!(stat.anon_bytes, Some(8_192_000));
    assert_eq!(stat.kernel_bytes, Some(123_456));
    assert_eq!(stat.sock_bytes, Some(4096));
    let old = sample::memory_stat("anon 1\nkernel_stack 100\npagetables 20\nslab 3\n", true);
    assert_eq!(old.kernel_bytes, Some(123));
    assert_eq!(sample::memory_stat("garbage\n\n", true), Stat::default());
}

#[test]
fn v2_events_pressure_and_pids() {
    let events = sample::memory_events("low 0\nhigh 7\nmax 3\noom 1\noom_kill 1\n").unwrap();
    assert_eq!(
        (events.high, events.max, events.oom, events.oom_kill),
        (7, 3, 1, 1)
    );
    assert_eq!(sample::memory_events("nothing here\n"), None);
    let pressure = "some avg10=12.50 avg60=1.00 avg300=0.00 total=5\nfull avg10=3.00 avg60=0 avg300=0 total=1\n";
    assert_eq!(sample::pressure_some_avg10(pressure), Some(12.5));
    assert_eq!(sample::pressure_some_avg10("some avg10=nan\n"), None);
    assert_eq!(sample::pids("12\n\n7\nx\n-3\n0\n99\n", 3), vec![12, 7, 99]);
}

#[test]
fn process_status_of_a_real_process() {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let process = sample::process_status(42, &text).unwrap();
    assert_eq!(process.pid, 42);
    assert!(process.rss_anon_bytes > 0, "{process:?}");
    assert!(process.threads >= 1);
    assert_eq!(sample::process_status(1, ""), None);
    assert_eq!(sample::process_status(1, "Name:\tx\n"), None);
}

fn process(pid: i32, name: &str, anon_mib: u64, threads: u64) -> Process {
    Process {
        pid,
        name: name.to_string(),
        rss_anon_bytes: anon_mib * MIB,
        rss_file_bytes: 0,
        rss_shmem_bytes: 0,
        swap_bytes: 0,
        threads,
    }
}

/// A JVM sample: heap committed, metaspace, threads, its process's anonymous memory.
#[derive(Clone, Copy)]
struct J {
    heap: u64,
    meta: u64,
    threads: u64,
    anon: u64,
}

fn at(t_ms: u64, jvm: Option<J>, others: &[(i32, &str, u64)], cache_mib: u64) -> Sample {
    let mut processes: Vec<Process> = others
        .iter()
        .map(|&(pid, name, mib)| process(pid, name, mib, 1))
        .collect();
    let mut usage = cache_mib * MIB + others.iter().map(|o| o.2 * MIB).sum::<u64>();
    let jvm = jvm.map(|j| {
        processes.push(process(100, "java", j.anon, j.threads));
        usage += j.anon * MIB;
        Jvm {
            pid: 100,
            heap_committed_bytes: Some(j.heap * MIB),
            heap_used_bytes: Some(j.heap * MIB / 2),
            heap_max_bytes: Some(64 * MIB),
            metaspace_bytes: Some(j.meta * MIB),
            code_bytes: Some(5 * MIB),
            threads: Some(j.threads),
            classes: Some(j.meta * 200),
        }
    });
    Sample {
        t_ms,
        usage_bytes: usage,
        limit_bytes: Some(256 * MIB),
        stat: Stat {
            anon_bytes: Some(usage - cache_mib * MIB),
            file_bytes: Some(cache_mib * MIB),
            shmem_bytes: Some(0),
            kernel_bytes: Some(2 * MIB),
            sock_bytes: None,
        },
        events: None,
        pressure_some_avg10: None,
        processes,
        jvm,
    }
}

fn j(heap: u64, meta: u64, threads: u64, outside: u64) -> Option<J> {
    Some(J {
        heap,
        meta,
        threads,
        anon: heap + meta + 5 + outside,
    })
}

fn cause(samples: &[Sample], args: &str) -> (Region, String) {
    let context = Context {
        jvm_args: Some(args.to_string()),
    };
    let finding = blame::blame(samples, &context).expect("a finding");
    let mut text = finding.line();
    for line in &finding.also {
        text.push('\n');
        text.push_str(line);
    }
    (finding.cause, text)
}

#[test]
fn the_region_that_grew_most_is_the_cause() {
    // The heap grows from 20 to 200 MiB, nothing else moves.
    let heap: Vec<Sample> = (0..10)
        .map(|i| at(i * 500, j(20 + i * 20, 20, 20, 30), &[], 0))
        .collect();
    let (region, text) = cause(&heap, "-Xmx1g");
    assert_eq!(region, Region::Heap, "{text}");
    assert!(text.contains("200 MiB committed"), "{text}");
    assert!(text.contains("grew from 20 MiB in 4.5 s"), "{text}");

    let meta: Vec<Sample> = (0..10)
        .map(|i| at(i * 500, j(60, 20 + i * 15, 20, 30), &[], 0))
        .collect();
    assert_eq!(cause(&meta, "").0, Region::Metaspace);

    let threads: Vec<Sample> = (0..10)
        .map(|i| at(i * 500, j(60, 20, 20 + i * 300, 30 + i * 15), &[], 0))
        .collect();
    let (region, text) = cause(&threads, "");
    assert_eq!(region, Region::Threads, "{text}");
    assert!(text.contains("2720 live threads (from 20"), "{text}");
}

#[test]
fn growth_outside_the_heap_is_direct_buffers_within_the_cap_and_native_beyond() {
    let outside: Vec<Sample> = (0..10)
        .map(|i| at(i * 500, j(60, 20, 20, 30 + i * 15), &[], 0))
        .collect();
    // 135 MiB of growth: within a 1 GiB direct cap, beyond the default (the 64 MiB heap).
    let (region, text) = cause(&outside, "-Xmx64m -XX:MaxDirectMemorySize=1g");
    assert_eq!(region, Region::DirectBuffers, "{text}");
    assert!(text.contains("within the 1024 MiB"), "{text}");
    let (region, text) = cause(&outside, "-Xmx64m");
    assert_eq!(region, Region::NativeMemory, "{text}");
    assert!(text.contains("more than the 64 MiB"), "{text}");
    // The last -XX:MaxDirectMemorySize wins, as in the JVM.
    let (region, _) = cause(
        &outside,
        "-XX:MaxDirectMemorySize=1g -XX:MaxDirectMemorySize=16m",
    );
    assert_eq!(region, Region::NativeMemory);
}

#[test]
fn another_process_growing_beside_a_steady_jvm_is_named() {
    let samples: Vec<Sample> = (0..10)
        .map(|i| at(i * 500, j(150, 20, 20, 30), &[(7, "tail", 1 + i * 10)], 0))
        .collect();
    let (region, text) = cause(&samples, "");
    assert_eq!(region, Region::AnotherProcess, "{text}");
    assert!(text.contains("tail (pid 7) held 91 MiB"), "{text}");
}

#[test]
fn page_cache_is_reported_but_never_the_cause() {
    // Page cache fills first, then the heap grows while the kernel gives the cache back.
    let mut samples: Vec<Sample> = (0..5)
        .map(|i| at(i * 500, j(20, 20, 20, 30), &[], i * 40))
        .collect();
    samples.extend((0..5).map(|i| {
        at(
            2500 + i * 500,
            j(40 + i * 30, 20, 20, 30),
            &[],
            160 - i * 30,
        )
    }));
    let (region, text) = cause(&samples, "");
    assert_eq!(region, Region::Heap, "{text}");
    assert!(
        text.contains("Page cache: 160 MiB (reclaimable; not the cause)."),
        "{text}"
    );
}

#[test]
fn samples_after_the_kill_are_left_out_and_without_a_jvm_processes_are_blamed() {
    let mut samples: Vec<Sample> = (0..6)
        .map(|i| at(i * 200, None, &[(5, "python3", 10 + i * 40)], 0))
        .collect();
    // The killed process gives its memory back.
    samples.push(at(1300, None, &[(5, "python3", 0)], 0));
    let (region, text) = cause(&samples, "");
    assert_eq!(region, Region::ProcessMemory, "{text}");
    assert!(
        text.contains("210 MiB") && text.contains("python3 (pid 5)"),
        "{text}"
    );
}

#[test]
fn nothing_grew_names_the_largest_and_no_samples_no_finding() {
    let steady: Vec<Sample> = (0..5)
        .map(|i| at(i * 1000, j(150, 20, 20, 30), &[], 0))
        .collect();
    assert_eq!(cause(&steady, "").0, Region::Heap);
    assert_eq!(blame::blame(&[], &Context::default()), None);
}

fn observed(collector: Collector, name: &str) -> Observed {
    Observed {
        pid: 100,
        name: "java".to_string(),
        collector,
        collector_name: name.to_string(),
        max_heap_mib: Some(366),
        jvm_args: String::new(),
    }
}

#[test]
fn a_lowered_limit_warns_and_proposes_a_soft_heap_limit_where_the_collector_follows_one() {
    let sizing = |feature| Sizing {
        limit_bytes: Some(512 * MIB),
        heap_mib: Some(366),
        jdk_feature: Some(feature),
    };
    let zgc = observed(Collector::Unmeasured, "ZGC Minor Collection");
    let text = resize_warning(256 * MIB, 512 * MIB, &sizing(21), Some(&zgc), "java").unwrap();
    assert!(text.contains("256 MiB, is below the 512 MiB"), "{text}");
    assert!(
        text.contains("heap up to 366 MiB and about 146 MiB outside it"),
        "{text}"
    );
    assert!(
        text.contains("VM.set_flag SoftMaxHeapSize 115343360 (110 MiB)"),
        "{text}"
    );
    let g1 = observed(Collector::G1, "G1 Young Generation");
    let old = resize_warning(256 * MIB, 512 * MIB, &sizing(21), Some(&g1), "java").unwrap();
    assert!(!old.contains("SoftMaxHeapSize"), "{old}");
    let new = resize_warning(256 * MIB, 512 * MIB, &sizing(26), Some(&g1), "java").unwrap();
    assert!(new.contains("SoftMaxHeapSize"), "{new}");
    let serial = observed(Collector::Serial, "Serial young collection pauses");
    assert!(
        !resize_warning(256 * MIB, 512 * MIB, &sizing(26), Some(&serial), "java")
            .unwrap()
            .contains("SoftMaxHeapSize")
    );
    let node = resize_warning(256 * MIB, 512 * MIB, &Sizing::default(), None, "node").unwrap();
    assert!(
        node.contains("below the 512 MiB jwrap sized node for"),
        "{node}"
    );
}

#[test]
fn a_sample_taken_while_the_killed_jvm_is_torn_down_is_not_the_end() {
    let mut samples: Vec<Sample> = (0..8)
        .map(|i| at(i * 250, j(8, 20 + i * 25, 20, 30), &[], 0))
        .collect();
    // The JVM is gone from the list, its memory still charged (usage as high as before).
    let mut gone = at(2100, None, &[], 0);
    gone.usage_bytes = samples.last().unwrap().usage_bytes;
    gone.stat.kernel_bytes = Some(gone.usage_bytes);
    samples.push(gone);
    assert_eq!(blame::before_kill(&samples).len(), 8);
    let (region, text) = cause(&samples, "");
    assert_eq!(region, Region::Metaspace, "{text}");
}
