//! The heap budget: the container's memory limit minus what the JVM needs besides the heap.
//!
//! Each non-heap region is `base + share × limit`, kept between a floor and a cap, so the
//! budget is sane from 128 MiB (where Paketo's fixed 240 MiB code cache and 250 thread stacks
//! leave nothing) to 64 GiB (where fixed sizes would waste nothing but percentages would waste
//! gigabytes). The heap is what is left, kept between a floor and a ceiling share of the limit.
//!
//! All the numbers are the `Rule` constants and the `HEAP_*` constants below, each with why,
//! calibrated on real servers under load (see "Calibration").
//!
//! Arithmetic is exact: sizes are counted in thousandths of a MiB, so the heap never shrinks
//! when the limit grows, and only the final heap is rounded (down, to whole MiB).

use crate::units::MIB;
use std::fmt;

/// Sizes are counted in thousandths of a MiB: every share below is a whole per-mille.
const UNITS_PER_MIB: u64 = 1000;

/// A region of memory the JVM uses besides the heap, or an allowance for what nobody tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Metaspace,
    CodeCache,
    DirectMemory,
    ThreadStacks,
    /// The collector's own structures (NMT's "GC"): the only region that depends on it.
    Gc,
    /// The JIT compilers' working memory (NMT's "Compiler" and "Arena Chunk").
    Compiler,
    /// The rest of the JVM's native memory: symbols, the shared class archive, internal
    /// tables, malloc's own overhead.
    Native,
    Headroom,
}

impl Region {
    pub const ALL: [Region; 8] = [
        Region::Metaspace,
        Region::CodeCache,
        Region::DirectMemory,
        Region::ThreadStacks,
        Region::Gc,
        Region::Compiler,
        Region::Native,
        Region::Headroom,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Region::Metaspace => "metaspace",
            Region::CodeCache => "code cache",
            Region::DirectMemory => "direct memory",
            Region::ThreadStacks => "thread stacks",
            Region::Gc => "GC",
            Region::Compiler => "compiler",
            Region::Native => "native",
            Region::Headroom => "headroom",
        }
    }

    /// The name in JSON.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Region::Metaspace => "metaspace_mib",
            Region::CodeCache => "code_cache_mib",
            Region::DirectMemory => "direct_memory_mib",
            Region::ThreadStacks => "thread_stacks_mib",
            Region::Gc => "gc_mib",
            Region::Compiler => "compiler_mib",
            Region::Native => "native_mib",
            Region::Headroom => "headroom_mib",
        }
    }

    fn rule(self, collector: Collector) -> Rule {
        match self {
            Region::Metaspace => METASPACE,
            Region::CodeCache => CODE_CACHE,
            Region::DirectMemory => DIRECT_MEMORY,
            Region::ThreadStacks => THREAD_STACKS,
            Region::Gc => match collector {
                Collector::Serial => GC_SERIAL,
                Collector::Parallel => GC_PARALLEL,
                Collector::G1 | Collector::Unmeasured => GC_G1,
            },
            Region::Compiler => COMPILER,
            Region::Native => NATIVE,
            Region::Headroom => HEADROOM,
        }
    }
}

/// How one region follows the limit: `base_mib + limit × per_mille / 1000`, then at least
/// `floor_mib` and at most `cap_mib`.
#[derive(Debug, Clone, Copy)]
struct Rule {
    base_mib: u64,
    per_mille: u64,
    floor_mib: u64,
    cap_mib: u64,
}

// Calibration. `scripts/servers.sh` runs Debian's Tomcat 10 and Jetty 9 and a JDK-only service
// (tests/java-programs/AllocService.java) in a real memory cgroup under `ab -c 50`, each request
// allocating 1 MiB and keeping the last 32, with Native Memory Tracking sampled every 2 s, for
// Serial, Parallel and G1 at 256 and 512 MiB (JDK 17). Committed MiB, the largest of any run:
//
//   region              G1 256/512   Parallel 256/512   Serial 256/512
//   GC                    41 / 48        13 / 19          <1 / —
//   compiler + arenas     27 / 19        26 / 31          18 / —       (13–33, transient)
//   code                  16 / 15        16 / 15          15 / —
//   metaspace + class     22 / 22        23 / 23          22 / —
//   threads               13 / 12        12 /  7          11 / —
//   symbols, CDS, other   16 / 16        16 / 15          16 / —
//   non-heap at once     130 / 129       98 / 90          80 / —       (NMT total − heap)
//
// Tomcat with G1 was killed at 256 MiB with -Xmx150m (NMT total 278 MiB) and survived -Xmx100m.
// Each rule below is the largest value plus the margin given with it; their sum is 28 % over
// the largest non-heap total measured at once with G1 and 58 % with Serial (the per-region
// peaks do not coincide). BENCHMARKS.md, "Real servers", has every run. The machine was shared
// (2 cores, load 10–60): the numbers are peaks of few runs each, not averages.

/// Metaspace: class metadata, about 5 KiB per loaded class: 22–23 MiB for Tomcat and Jetty
/// (+ 0–17 % margin at 256/512 MiB); a Spring service with 15 000 classes needs about 75 MiB,
/// which the looser -XX:MaxMetaspaceSize bound (a quarter of the limit) allows. Too little fails at start-up with "`OutOfMemoryError`: Metaspace", a
/// clear message; an app that needs more sets -XX:MaxMetaspaceSize and jwrap budgets for it.
const METASPACE: Rule = Rule {
    base_mib: 20,
    per_mille: 15,
    floor_mib: 24,
    cap_mib: 256,
};

/// Code cache: JIT-compiled code. The JVM reserves 240 MiB with tiered compilation (its own
/// default, hence the cap); measured use is 10–21 MiB in the first seconds and 30–60 MiB for a
/// long-running service. A full cache stops compilation (slower), it does not crash. JDK 8
/// needs at least its 2.4 MiB initial size.
const CODE_CACHE: Rule = Rule {
    base_mib: 14,
    per_mille: 12,
    floor_mib: 8,
    cap_mib: 240,
};

/// Direct memory: NIO buffers. The JVM's default bound is the heap size, a second heap the
/// container cannot afford. Netty sizes its pools from this bound. The JDK takes a little for
/// itself (an 8 MiB bound refused the stress load's 8 MiB of buffers by 8 KiB), hence the floor.
const DIRECT_MEMORY: Rule = Rule {
    base_mib: 8,
    per_mille: 10,
    floor_mib: 16,
    cap_mib: 512,
};

/// Thread stacks: 1 MiB reserved per thread, but only the touched part is memory: 12–13 MiB
/// for Tomcat's and Jetty's 60–90 threads under load: 14 and 16 here (8 %, 33 % over).
const THREAD_STACKS: Rule = Rule {
    base_mib: 12,
    per_mille: 8,
    floor_mib: 0,
    cap_mib: 64,
};

/// GC with G1: remembered sets, card table, mark bitmaps; grows with the heap (about 38 MiB +
/// 3.5 % of it), so no cap. Measured 41 MiB at 256 (heap 100), 48 at 512 (heap 300): 44 and 50
/// here, 7 % and 4 % over.
const GC_G1: Rule = Rule {
    base_mib: 39,
    per_mille: 22,
    floor_mib: 0,
    cap_mib: u64::MAX,
};

/// GC with Parallel (JDK 8's default): card table, mark bitmap, a little per GC thread.
/// Measured 13 MiB at 256, 19 at 512: 17 and 22 here, 30 % and 16 % over.
const GC_PARALLEL: Rule = Rule {
    base_mib: 12,
    per_mille: 20,
    floor_mib: 0,
    cap_mib: u64::MAX,
};

/// GC with Serial, which a container-aware JVM picks below 2 CPUs or 1792 MiB (JDK 26 and
/// older): a card table and little else, under 1 MiB in every run.
const GC_SERIAL: Rule = Rule {
    base_mib: 2,
    per_mille: 4,
    floor_mib: 0,
    cap_mib: u64::MAX,
};

/// The JIT compilers' arenas: C2 compiling a large method takes tens of MiB for a moment.
/// Measured 13–26 MiB in most runs, single samples of 27 (256) and 33 (512): 23 and 28 here,
/// below those samples, which did not coincide with the other regions' peaks (the sum stays
/// 28 % over the largest non-heap total measured at once).
const COMPILER: Rule = Rule {
    base_mib: 18,
    per_mille: 20,
    floor_mib: 0,
    cap_mib: 128,
};

/// Symbols (4 MiB), the shared class archive (11), internal tables and the rest (1): 16 MiB in
/// every run, 17 here (6 % over).
const NATIVE: Rule = Rule {
    base_mib: 17,
    per_mille: 0,
    floor_mib: 0,
    cap_mib: u64::MAX,
};

/// The collector the JVM will run, as far as its memory goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collector {
    Serial,
    Parallel,
    G1,
    /// ZGC, Shenandoah, CMS, Epsilon: not measured; budgeted like G1, the largest measured.
    Unmeasured,
}

impl Collector {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Collector::Serial => "Serial",
            Collector::Parallel => "Parallel",
            Collector::G1 => "G1",
            Collector::Unmeasured => "another collector",
        }
    }

    /// The collector an option chooses: `-XX:+UseG1GC`.
    #[must_use]
    pub fn from_option(option: &str) -> Option<Collector> {
        let name = option.strip_prefix("-XX:+Use")?.strip_suffix("GC")?;
        Some(match name {
            "Serial" => Collector::Serial,
            "Parallel" | "ParallelOld" => Collector::Parallel,
            "G1" => Collector::G1,
            _ => Collector::Unmeasured,
        })
    }

    /// The collector `HotSpot` names in its performance data (`sun.gc.collector.0.name`, the young
    /// generation's): `Serial young collection pauses` (JDK 17+) or `Copy` before,
    /// `Parallel young collection pauses` or `PSScavenge`, `G1 young collection pauses` or
    /// `G1 incremental collections`.
    #[must_use]
    pub fn from_perf_name(young: &str) -> Collector {
        match young {
            "Copy" => Collector::Serial,
            "PSScavenge" => Collector::Parallel,
            name if name.starts_with("Serial ") => Collector::Serial,
            name if name.starts_with("Parallel ") => Collector::Parallel,
            name if name.starts_with("G1 ") => Collector::G1,
            _ => Collector::Unmeasured,
        }
    }
}

/// Headroom: what no JVM flag bounds and the stress load does not show: page cache of files
/// the app writes (charged to the cgroup), tmpfs, allocator fragmentation over a long run, a
/// forked helper process.
const HEADROOM: Rule = Rule {
    base_mib: 5,
    per_mille: 23,
    floor_mib: 4,
    cap_mib: 256,
};

/// Below 25 % of the limit a heap is hardly useful to a service (the JVM's own default share).
/// When the regions leave less, jwrap still picks what is safe — a Java `OutOfMemoryError` is
/// an orderly failure, a kernel kill is not — and says that no heap is both safe and useful.
const HEAP_USEFUL_PER_MILLE: u64 = 250;
/// The heap is at most 85 % of the limit: in large containers the non-heap regions hit their
/// caps, and without this the heap would approach the whole limit, leaving no room for a
/// growing GC or native footprint.
const HEAP_CEILING_PER_MILLE: u64 = 850;
/// The smallest heap a JVM starts with: `-Xmx2m` fails with "GC triggered before VM
/// initialization completed" (JDK 17, 25), `-Xmx8m` starts.
pub const HEAP_MIN_MIB: u64 = 8;

/// The size of one region in the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionSize {
    pub region: Region,
    /// Whole MiB, rounded down (headroom takes the rounding, so the sum is exact).
    pub mib: u64,
    /// The user fixed it with their own option.
    pub users: bool,
}

/// Why the heap has the size it has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeapRule {
    /// The limit minus the regions.
    Budget,
    /// What the regions leave, though less than a useful share of the limit: no heap is both
    /// safe and useful here, and this one is safe.
    Cramped,
    /// Lowered to the ceiling share of the limit.
    Ceiling,
    /// `--heap-percent`.
    Percent(f64),
    /// Raised to the smallest heap a JVM starts with.
    Minimum,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeapBudget {
    pub limit_mib: u64,
    pub regions: Vec<RegionSize>,
    pub heap_mib: u64,
    pub rule: HeapRule,
}

/// The sizes the user gave for the regions they bound themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRegions {
    pub metaspace: Option<u64>,
    pub code_cache: Option<u64>,
    pub direct_memory: Option<u64>,
}

impl UserRegions {
    fn bytes(&self, region: Region) -> Option<u64> {
        match region {
            Region::Metaspace => self.metaspace,
            Region::CodeCache => self.code_cache,
            Region::DirectMemory => self.direct_memory,
            _ => None,
        }
    }
}

/// One region's exact size, in units, at a limit of `limit_mib`.
fn region_units(rule: Rule, limit_mib: u64) -> u64 {
    let scaled = rule
        .base_mib
        .saturating_mul(UNITS_PER_MIB)
        .saturating_add(limit_mib.saturating_mul(rule.per_mille));
    scaled.clamp(
        rule.floor_mib.saturating_mul(UNITS_PER_MIB),
        rule.cap_mib.saturating_mul(UNITS_PER_MIB),
    )
}

/// The budget for a memory limit of `limit_bytes`; `percent` is `--heap-percent`.
pub fn budget(
    limit_bytes: u64,
    user: &UserRegions,
    collector: Collector,
    percent: Option<f64>,
) -> HeapBudget {
    let limit_mib = limit_bytes / MIB;
    let exact: Vec<(Region, u64, bool)> = Region::ALL
        .iter()
        .map(|&region| match user.bytes(region) {
            Some(bytes) => (
                region,
                bytes.div_ceil(MIB).saturating_mul(UNITS_PER_MIB),
                true,
            ),
            None => (
                region,
                region_units(region.rule(collector), limit_mib),
                false,
            ),
        })
        .collect();
    let total_units: u64 = exact
        .iter()
        .map(|(_, units, _)| *units)
        .fold(0, u64::saturating_add);
    let non_heap_mib = total_units.div_ceil(UNITS_PER_MIB);
    let left_mib = limit_mib.saturating_sub(non_heap_mib);

    // Every region but the headroom rounded down; the headroom shows the rest.
    let mut regions: Vec<RegionSize> = exact
        .iter()
        .map(|&(region, units, users)| RegionSize {
            region,
            mib: units / UNITS_PER_MIB,
            users,
        })
        .collect();
    let others: u64 = regions
        .iter()
        .filter(|r| r.region != Region::Headroom)
        .map(|r| r.mib)
        .sum();
    if let Some(headroom) = regions.iter_mut().find(|r| r.region == Region::Headroom) {
        headroom.mib = non_heap_mib.saturating_sub(others);
    }

    let share = |per_mille: u64| limit_mib.saturating_mul(per_mille) / 1000;
    let (heap_mib, rule) = match percent {
        Some(percent) => (
            (limit_mib as f64 * percent / 100.0) as u64,
            HeapRule::Percent(percent),
        ),
        None if left_mib < share(HEAP_USEFUL_PER_MILLE) => (left_mib, HeapRule::Cramped),
        None if left_mib > share(HEAP_CEILING_PER_MILLE) => {
            (share(HEAP_CEILING_PER_MILLE), HeapRule::Ceiling)
        }
        None => (left_mib, HeapRule::Budget),
    };
    let (heap_mib, rule) = if heap_mib < HEAP_MIN_MIB {
        (HEAP_MIN_MIB, HeapRule::Minimum)
    } else {
        (heap_mib, rule)
    };
    HeapBudget {
        limit_mib,
        regions,
        heap_mib,
        rule,
    }
}

impl HeapBudget {
    #[must_use]
    pub fn region(&self, region: Region) -> Option<&RegionSize> {
        self.regions.iter().find(|r| r.region == region)
    }

    /// The heap as a percentage of the limit, rounded.
    #[must_use]
    pub fn heap_percent(&self) -> u64 {
        (self.heap_mib * 100)
            .checked_div(self.limit_mib)
            .unwrap_or(0)
    }

    /// `limit 2048 − metaspace 256 − ... − headroom 102`: the budget before any bound.
    fn subtraction(&self) -> String {
        let mut text = format!("limit {}", self.limit_mib);
        for r in &self.regions {
            let whose = if r.users { " (yours)" } else { "" };
            text.push_str(&format!(" − {} {}{whose}", r.region.name(), r.mib));
        }
        text
    }
}

impl fmt::Display for HeapBudget {
    /// The arithmetic, as `info` and `-v` show it (all in MiB).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let heap = self.heap_mib;
        let share = self.heap_percent();
        match self.rule {
            HeapRule::Budget => write!(
                f,
                "heap {heap} MiB = {} ({share} % of the limit)",
                self.subtraction()
            ),
            HeapRule::Cramped => write!(
                f,
                "heap {heap} MiB = {}: below the {} % of the limit a service needs, but all \
                 that is safe",
                self.subtraction(),
                HEAP_USEFUL_PER_MILLE / 10
            ),
            HeapRule::Ceiling => write!(
                f,
                "heap {heap} MiB: the ceiling of {} % of the limit, since {} leaves more",
                HEAP_CEILING_PER_MILLE / 10,
                self.subtraction()
            ),
            HeapRule::Percent(percent) => write!(
                f,
                "heap {heap} MiB = {percent} % of the limit {} MiB (--heap-percent); the budget \
                 would be {}",
                self.limit_mib,
                self.subtraction()
            ),
            HeapRule::Minimum => write!(
                f,
                "heap {heap} MiB: the smallest heap a JVM starts with, since a limit of {} MiB \
                 leaves less",
                self.limit_mib
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn default_budget(limit: u64) -> HeapBudget {
        budget(limit, &UserRegions::default(), Collector::G1, None)
    }

    fn mib(budget: &HeapBudget, region: Region) -> u64 {
        budget.region(region).map_or(0, |r| r.mib)
    }

    #[test]
    fn the_arithmetic_adds_up() {
        for limit_mib in [128, 200, 256, 300, 512, 777, 1024, 2048, 4096] {
            let b = default_budget(limit_mib * MIB);
            if b.rule == HeapRule::Budget {
                let regions: u64 = b.regions.iter().map(|r| r.mib).sum();
                assert_eq!(b.heap_mib + regions, limit_mib, "{b}");
            }
        }
    }

    #[test]
    fn heap_is_half_to_85_percent_from_512_mib() {
        for limit in [512 * MIB, GIB, 2 * GIB, 4 * GIB, 16 * GIB, 64 * GIB] {
            let b = default_budget(limit);
            let limit_mib = limit / MIB;
            assert!(b.heap_mib * 100 >= limit_mib * 50, "{b}");
            assert!(b.heap_mib * 100 <= limit_mib * 85, "{b}");
        }
    }

    #[test]
    fn small_containers_are_sane() {
        for limit_mib in [128, 256] {
            let b = default_budget(limit_mib * MIB);
            if limit_mib >= 256 {
                assert!(b.heap_mib >= limit_mib / 4, "{b}");
            } else {
                assert_eq!(b.rule, HeapRule::Minimum, "{b}");
            }
            for region in Region::ALL {
                let rule = region.rule(Collector::G1);
                assert!(
                    mib(&b, region) >= rule.floor_mib,
                    "{} below its floor: {b}",
                    region.name()
                );
            }
            // JDK 8 refuses a code cache below its initial size (2496 KiB).
            assert!(mib(&b, Region::CodeCache) * 1024 >= 2496, "{b}");
        }
    }

    #[test]
    fn the_heap_grows_with_the_limit() {
        let mut previous = 0;
        for limit_mib in (16..=70_000).step_by(7) {
            let heap = default_budget(limit_mib * MIB).heap_mib;
            assert!(
                heap >= previous,
                "heap shrank at {limit_mib} MiB: {previous} → {heap}"
            );
            previous = heap;
        }
        let mut previous = 0;
        for limit in (100 * MIB..140 * MIB).step_by(4099) {
            let heap = default_budget(limit).heap_mib;
            assert!(heap >= previous, "heap shrank at {limit} bytes");
            previous = heap;
        }
    }

    #[test]
    fn regions_grow_with_the_limit_and_stop_at_their_caps() {
        let small = default_budget(512 * MIB);
        let large = default_budget(64 * GIB);
        for region in Region::ALL {
            assert!(
                mib(&large, region) >= mib(&small, region),
                "{}",
                region.name()
            );
        }
        assert_eq!(mib(&large, Region::CodeCache), 240);
        assert_eq!(mib(&large, Region::Metaspace), 256);
        assert_eq!(large.rule, HeapRule::Ceiling);
    }

    #[test]
    fn users_regions_replace_the_estimates() {
        let user = UserRegions {
            metaspace: Some(300 * MIB),
            code_cache: None,
            direct_memory: Some(MIB + 1),
        };
        let b = budget(GIB, &user, Collector::G1, None);
        assert_eq!(
            b.region(Region::Metaspace),
            Some(&RegionSize {
                region: Region::Metaspace,
                mib: 300,
                users: true,
            })
        );
        assert_eq!(mib(&b, Region::DirectMemory), 2);
        assert!(b.to_string().contains("metaspace 300 (yours)"), "{b}");
        assert!(b.heap_mib < default_budget(GIB).heap_mib);
    }

    #[test]
    fn heap_percent_replaces_the_policy() {
        let b = budget(GIB, &UserRegions::default(), Collector::G1, Some(75.0));
        assert_eq!(b.heap_mib, 768);
        assert_eq!(
            budget(GIB, &UserRegions::default(), Collector::G1, Some(150.0)).heap_mib,
            1536
        );
        assert!(b.to_string().contains("--heap-percent"), "{b}");
        let tiny = budget(GIB, &UserRegions::default(), Collector::G1, Some(0.1));
        assert_eq!(
            (tiny.heap_mib, tiny.rule),
            (HEAP_MIN_MIB, HeapRule::Minimum)
        );
    }

    #[test]
    fn tiny_and_absurd_limits_still_give_an_answer() {
        let b = default_budget(64 * MIB);
        assert_eq!(b.rule, HeapRule::Minimum);
        assert_eq!(b.heap_mib, HEAP_MIN_MIB);
        let cramped = default_budget(200 * MIB);
        assert_eq!(cramped.rule, HeapRule::Cramped, "{cramped}");
        assert!(
            cramped.to_string().contains("all that is safe"),
            "{cramped}"
        );
        assert_eq!(default_budget(1000).heap_mib, HEAP_MIN_MIB);
        let huge = default_budget(u64::MAX);
        assert!(huge.heap_mib > 0 && huge.heap_mib < u64::MAX / MIB);
    }
}
