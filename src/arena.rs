//! jwrap's global allocator: size classes over one fixed region, the system allocator behind it.
//!
//! Start-up (option parsing, detection, the JVM decision) makes a few thousand small allocations
//! and frees most of them within a millisecond. The static binary links musl, whose allocator
//! gives a group of freed blocks back to the kernel as soon as it empties: one start-up cost
//! about 27 `mmap` and 25 `munmap` calls, a zero-filled page fault for every page mapped again,
//! and a third of jwrap's instructions (strace and callgrind on `jwrap -- /bin/true`). Here a
//! freed block goes on the free list of its size class and the next allocation of that class
//! takes it back, so start-up touches a few dozen pages of one region and makes no system call
//! for memory at all.
//!
//! Blocks are powers of two from 16 bytes to 64 KiB; a block of a class is aligned to its size
//! (at most a page), which satisfies every layout that maps to that class. Anything larger, more
//! aligned, or beyond the region comes from the system allocator, so nothing has a hard limit.
//! The region is never given back: what the waiting init keeps is bounded by its size and is,
//! in practice, the pages start-up touched.
//!
//! Every page touched for the first time costs a zero-filled page fault (about a microsecond,
//! as much as one of the system calls saved), so the region is laid out to touch few: blocks
//! under a page are packed in the first quarter, page-sized and larger blocks in the rest, and
//! a large block that is the last one handed out grows in place. A vector that doubles from 4
//! to 32 KiB (clap's list of options) then touches the pages of its final size once, instead
//! of every size it went through.
//!
//! One thread owns the region, the one that called [`Arena::claim`] (jwrap's main thread, before
//! anything else): only it takes blocks from the region and puts them back, so the lists need no
//! lock, and the thousands of start-up allocations no atomic instruction. Other threads (the
//! one reading `java -version`) allocate from the system; a region block they free or grow is
//! simply not reused. No allocation happens between `clone` and `exec`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The smallest block, 16 bytes: room for the free-list link and the alignment `malloc` gives.
const MIN_SHIFT: u32 = 4;
/// 16 B, 32 B, ... 64 KiB.
const CLASSES: usize = 13;
const MAX_BLOCK: usize = 1 << (MIN_SHIFT as usize + CLASSES - 1);
/// Blocks are aligned to their size up to this; the region itself is aligned to it.
const MAX_ALIGN: usize = 4096;
/// The first class of page-sized blocks, which come from the large area.
const FIRST_LARGE_CLASS: usize = 8;

/// The bytes the allocator hands out, page-aligned. All zero, so a `static` of it costs no file
/// space and no memory until a page is first used.
#[repr(C, align(4096))]
struct Region<const BYTES: usize>([u8; BYTES]);

/// A free block's first bytes: the next free block of the same class.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// The bookkeeping, all zero when new: with one non-zero field the whole `static`, region
/// included, would move from `.bss` into the binary's file.
struct Lists {
    /// Bytes the small area (the region's first quarter) has handed out.
    small_used: usize,
    /// Bytes the large area (the rest, from `BYTES / 4`) has handed out.
    large_used: usize,
    /// Per class, the most recently freed block.
    free: [*mut FreeBlock; CLASSES],
}

/// A size-class allocator over `BYTES` bytes of its own, falling back to [`System`].
pub struct Arena<const BYTES: usize> {
    region: UnsafeCell<Region<BYTES>>,
    lists: UnsafeCell<Lists>,
    /// The owning thread (`this_thread`), 0 before `claim`.
    owner: AtomicUsize,
}

// SAFETY: `lists`, and the links in free blocks, are only touched by the owning thread; a
// block's bytes belong to whoever was handed the block.
unsafe impl<const BYTES: usize> Sync for Arena<BYTES> {}

impl<const BYTES: usize> Default for Arena<BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

/// An identity for the calling thread, never 0: the address of a thread-local, which no other
/// living thread shares.
fn this_thread() -> usize {
    thread_local! {
        static MARKER: u8 = const { 0 };
    }
    MARKER.with(|marker| marker as *const u8 as usize)
}

impl<const BYTES: usize> Arena<BYTES> {
    pub const fn new() -> Self {
        Arena {
            region: UnsafeCell::new(Region([0; BYTES])),
            lists: UnsafeCell::new(Lists {
                small_used: 0,
                large_used: 0,
                free: [ptr::null_mut(); CLASSES],
            }),
            owner: AtomicUsize::new(0),
        }
    }

    /// Make the calling thread the one that allocates from the region. Called once, before that
    /// thread allocates; the thread must outlive every other thread that uses the allocator.
    pub fn claim(&self) {
        self.owner.store(this_thread(), Ordering::Relaxed);
    }

    fn base(&self) -> usize {
        self.region.get() as usize
    }

    fn owns(&self, block: *mut u8) -> bool {
        let address = block as usize;
        address >= self.base() && address < self.base() + BYTES
    }

    /// `work` on the lists, when the calling thread owns them.
    fn with_lists<T>(&self, work: impl FnOnce(&mut Lists) -> T) -> Option<T> {
        if self.owner.load(Ordering::Relaxed) != this_thread() {
            return None;
        }
        // SAFETY: only the owning thread gets here, and `work` does not call back into the
        // allocator, so this is the only reference to the lists.
        Some(work(unsafe { &mut *self.lists.get() }))
    }

    /// A block of `class` from its free list, else from the untouched rest of the region.
    fn take(&self, class: usize) -> Option<*mut u8> {
        let base = self.base();
        self.with_lists(|lists| {
            let head = lists.free[class];
            if !head.is_null() {
                // SAFETY: a listed block is free, ours, and holds the link written by `give`.
                lists.free[class] = unsafe { (*head).next };
                return Some(head.cast::<u8>());
            }
            let size = block_size(class);
            let (used, area_start, area_end) = if class < FIRST_LARGE_CLASS {
                (&mut lists.small_used, 0, BYTES / 4)
            } else {
                (&mut lists.large_used, BYTES / 4, BYTES)
            };
            let start = (area_start + *used).next_multiple_of(size.min(MAX_ALIGN));
            let end = start.checked_add(size).filter(|end| *end <= area_end)?;
            *used = end - area_start;
            Some((base + start) as *mut u8)
        })?
    }

    /// Grow a large block from `class` to `new_class` where it is, when it is the last block
    /// the large area handed out and the area has room.
    fn grow_in_place(&self, block: *mut u8, class: usize, new_class: usize) -> bool {
        let start = (block as usize).wrapping_sub(self.base());
        class >= FIRST_LARGE_CLASS
            && self
                .with_lists(|lists| {
                    let at_end = start + block_size(class) == BYTES / 4 + lists.large_used;
                    let new_end = start + block_size(new_class);
                    if at_end && new_end <= BYTES {
                        lists.large_used = new_end - BYTES / 4;
                    }
                    at_end && new_end <= BYTES
                })
                .unwrap_or(false)
    }

    /// Put a block of `class` back on its free list (left unused when another thread frees it).
    fn give(&self, block: *mut u8, class: usize) {
        self.with_lists(|lists| {
            let link = block.cast::<FreeBlock>();
            // SAFETY: the block is ours, at least 16 bytes and 16-aligned, and no longer used.
            unsafe {
                link.write(FreeBlock {
                    next: lists.free[class],
                })
            };
            lists.free[class] = link;
        });
    }
}

/// The class serving `layout`, or `None` when it is too large or too aligned for the region.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    if size > MAX_BLOCK || layout.align() > MAX_ALIGN {
        return None;
    }
    // ceil(log2(size)) - MIN_SHIFT
    Some((usize::BITS - (size - 1).leading_zeros() - MIN_SHIFT) as usize)
}

fn block_size(class: usize) -> usize {
    1 << (MIN_SHIFT as usize + class)
}

// SAFETY: every block handed out is `block_size(class)` bytes aligned to `min(size, MAX_ALIGN)`,
// which covers the layout's size and alignment (`class_of`); a block is on a free list only
// after `dealloc`, so it is never handed out twice; foreign pointers go back to `System`.
unsafe impl<const BYTES: usize> GlobalAlloc for Arena<BYTES> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout).and_then(|class| self.take(class)) {
            Some(block) => block,
            // SAFETY: the caller's layout, passed on unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(class) if self.owns(block) => self.give(block, class),
            // SAFETY: not ours, so `System` handed it out with this layout.
            _ => unsafe { System.dealloc(block, layout) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(block) {
            // SAFETY: `System` handed it out with this layout; it stays with `System`.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        // SAFETY: the caller guarantees that `new_size`, rounded up to the alignment, fits
        // `isize`: the conditions of `from_size_align_unchecked`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (class, new_class) = (class_of(layout), class_of(new_layout));
        if class == new_class {
            return block;
        }
        if let (Some(class), Some(new_class)) = (class, new_class) {
            if new_class > class && self.grow_in_place(block, class, new_class) {
                return block;
            }
        }
        // SAFETY: a valid non-zero layout (see above); the copy stays within both blocks, which
        // do not overlap since the old one is still in use; the old block is then given back.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes of the region handed out at least once, both areas together (0 to any thread but
    /// the owner).
    fn used<const BYTES: usize>(arena: &Arena<BYTES>) -> usize {
        arena
            .with_lists(|lists| lists.small_used + lists.large_used)
            .unwrap_or(0)
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_are_the_next_power_of_two_from_16_bytes_to_64_kib() {
        assert_eq!(class_of(layout(1, 1)), Some(0));
        assert_eq!(class_of(layout(16, 8)), Some(0));
        assert_eq!(class_of(layout(17, 8)), Some(1));
        assert_eq!(class_of(layout(4096, 8)), Some(8));
        assert_eq!(class_of(layout(4097, 8)), Some(9));
        assert_eq!(class_of(layout(16384, 8)), Some(10));
        assert_eq!(class_of(layout(65536, 8)), Some(12));
        assert_eq!(class_of(layout(65537, 8)), None);
        // Alignment counts as size, and more than a page goes to the system.
        assert_eq!(class_of(layout(8, 256)), Some(4));
        assert_eq!(class_of(layout(8, 8192)), None);
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_only() {
        let arena = Box::new(Arena::<65536>::new());
        arena.claim();
        unsafe {
            let first = arena.alloc(layout(100, 8));
            assert!(arena.owns(first));
            arena.dealloc(first, layout(100, 8));
            // 100 and 128 bytes are one class: the same block comes back.
            assert_eq!(arena.alloc(layout(128, 8)), first);
            let other_class = arena.alloc(layout(100 * 2, 8));
            assert_ne!(other_class, first);
            // 128 bytes, then 256 aligned to 256.
            assert_eq!(used(&arena), 256 + 256);
        }
    }

    #[test]
    fn blocks_are_aligned_to_their_size_up_to_a_page() {
        static ARENA: Arena<{ 1 << 20 }> = Arena::new();
        let arena = &ARENA;
        arena.claim();
        unsafe {
            for (size, align) in [
                (1, 1),
                (24, 8),
                (64, 64),
                (3000, 4096),
                (10000, 16),
                (5, 512),
            ] {
                let block = arena.alloc(layout(size, align));
                assert!(arena.owns(block), "{size}/{align} not from the region");
                let expected = block_size(class_of(layout(size, align)).unwrap()).min(MAX_ALIGN);
                assert_eq!(block as usize % expected, 0, "{size}/{align} at {block:p}");
            }
        }
    }

    #[test]
    fn large_blocks_and_a_full_region_fall_back_to_the_system() {
        // 4 KiB for small blocks, 12 KiB for page-sized ones.
        let arena = Box::new(Arena::<16384>::new());
        arena.claim();
        unsafe {
            let large = arena.alloc(layout(100_000, 8));
            assert!(!large.is_null() && !arena.owns(large));
            large.write_bytes(7, 100_000);
            arena.dealloc(large, layout(100_000, 8));
            let eight = arena.alloc(layout(8192, 8));
            let page = arena.alloc(layout(4096, 8));
            assert_eq!(
                page as usize - eight as usize,
                8192,
                "large blocks are packed"
            );
            assert!(arena.owns(eight) && arena.owns(page));
            let beyond = arena.alloc(layout(4096, 8));
            assert!(!beyond.is_null() && !arena.owns(beyond));
            arena.dealloc(beyond, layout(4096, 8));
            let halves = [arena.alloc(layout(2048, 8)), arena.alloc(layout(2048, 8))];
            assert!(halves.iter().all(|half| arena.owns(*half)));
            assert!(halves.iter().all(|half| (*half as usize) < eight as usize));
            let small_beyond = arena.alloc(layout(16, 8));
            assert!(!small_beyond.is_null() && !arena.owns(small_beyond));
            arena.dealloc(small_beyond, layout(16, 8));
            arena.dealloc(page, layout(4096, 8));
            assert_eq!(arena.alloc(layout(4000, 8)), page);
            assert_eq!(used(&arena), 16384);
        }
    }

    #[test]
    fn the_last_large_block_grows_in_place() {
        let arena = Box::new(Arena::<{ 256 * 1024 }>::new());
        arena.claim();
        unsafe {
            let vector = arena.alloc(layout(2560, 8));
            vector.write_bytes(1, 2560);
            for size in [5120, 10240, 20480] {
                assert_eq!(arena.realloc(vector, layout(size / 2, 8), size), vector);
            }
            assert_eq!(std::slice::from_raw_parts(vector, 2560), [1; 2560]);
            // Small blocks do not get in the way: they come from the other area.
            let small = arena.alloc(layout(100, 8));
            assert!((small as usize) < vector as usize);
            assert_eq!(arena.realloc(vector, layout(20480, 8), 30000), vector);
            // Once another large block follows it, growing means moving.
            let next = arena.alloc(layout(4096, 8));
            let moved = arena.realloc(vector, layout(30000, 8), 40000);
            assert!(moved != vector && arena.owns(moved) && moved as usize > next as usize);
            assert_eq!(std::slice::from_raw_parts(moved, 2560), [1; 2560]);
        }
    }

    #[test]
    fn realloc_keeps_the_block_within_its_class_and_the_bytes_across_classes() {
        let arena = Box::new(Arena::<65536>::new());
        arena.claim();
        unsafe {
            let block = arena.alloc(layout(20, 4));
            block.copy_from_nonoverlapping(b"0123456789abcdefghij".as_ptr(), 20);
            assert_eq!(arena.realloc(block, layout(20, 4), 32), block);
            let grown = arena.realloc(block, layout(32, 4), 100_000);
            assert!(!arena.owns(grown));
            assert_eq!(
                std::slice::from_raw_parts(grown, 20),
                b"0123456789abcdefghij"
            );
            let back = arena.realloc(grown, layout(100_000, 4), 20);
            assert!(!back.is_null());
            assert_eq!(
                std::slice::from_raw_parts(back, 20),
                b"0123456789abcdefghij"
            );
            let moved = arena.realloc(arena.alloc(layout(16, 8)), layout(16, 8), 1000);
            assert!(arena.owns(moved));
        }
    }

    #[test]
    fn other_threads_allocate_from_the_system_and_never_share_a_block() {
        static SHARED: Arena<{ 1 << 20 }> = Arena::new();
        SHARED.claim();
        let owned = unsafe { SHARED.alloc(layout(64, 8)) };
        assert!(SHARED.owns(owned));
        let owned_address = owned as usize;
        let workers: Vec<_> = (1..=4u8)
            .map(|worker| {
                std::thread::spawn(move || unsafe {
                    // A block of the owner's, freed here: left unused, never handed out twice.
                    if worker == 1 {
                        SHARED.dealloc(owned_address as *mut u8, layout(64, 8));
                    }
                    for round in 0..2000usize {
                        let size = 16 + (round * 7 + worker as usize * 13) % 300;
                        let block = SHARED.alloc(layout(size, 8));
                        assert!(!SHARED.owns(block));
                        block.write_bytes(worker, size);
                        std::hint::black_box(block);
                        assert!(
                            std::slice::from_raw_parts(block, size)
                                .iter()
                                .all(|b| *b == worker)
                        );
                        SHARED.dealloc(block, layout(size, 8));
                    }
                    used(&SHARED)
                })
            })
            .collect();
        // Meanwhile the owner keeps allocating from the region.
        let mine: Vec<_> = (0..500)
            .map(|_| unsafe { SHARED.alloc(layout(64, 8)) })
            .collect();
        for worker in workers {
            assert_eq!(worker.join().unwrap(), 0, "only the owner sees the lists");
        }
        assert!(
            mine.iter()
                .all(|block| SHARED.owns(*block) && *block != owned)
        );
    }

    #[test]
    fn an_unclaimed_arena_is_the_system_allocator() {
        let arena = Box::new(Arena::<65536>::new());
        unsafe {
            let block = arena.alloc(layout(64, 8));
            assert!(!block.is_null() && !arena.owns(block));
            arena.dealloc(block, layout(64, 8));
        }
        assert_eq!(used(&arena), 0);
    }

    /// One step of a random workload: allocate `size` bytes aligned to `1 << align_shift`, or
    /// free / grow / shrink the live block picked by `pick`.
    #[derive(Debug, Clone)]
    enum Step {
        Alloc { size: usize, align_shift: u32 },
        Free { pick: usize },
        Realloc { pick: usize, size: usize },
    }

    /// Whether the `len` bytes at `block` are all `byte` (compared with `memcmp`: a byte loop
    /// is slow in the debug build the tests run in).
    unsafe fn holds(block: *const u8, len: usize, byte: u8) -> bool {
        unsafe { std::slice::from_raw_parts(block, len) == vec![byte; len].as_slice() }
    }

    /// Mostly blocks of the region's classes, sometimes larger than any (the system's).
    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![8 => 1usize..4096, 3 => 4096usize..65_536, 1 => 65_536usize..100_000]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (size(), 0u32..13).prop_map(|(size, align_shift)| Step::Alloc { size, align_shift }),
            any::<usize>().prop_map(|pick| Step::Free { pick }),
            (any::<usize>(), size()).prop_map(|(pick, size)| Step::Realloc { pick, size }),
        ]
    }

    proptest! {
        // A case fills and checks up to a hundred blocks of up to 100 kB: a fiftieth of the
        // cases the other property tests run (PROPTEST_CASES) keeps CI's debug build at about
        // 20 seconds.
        #![proptest_config(ProptestConfig {
            cases: ProptestConfig::default().cases / 50 + 1,
            ..ProptestConfig::default()
        })]

        /// Any sequence of allocations, frees and reallocations gives blocks that are aligned,
        /// never overlap, and keep their bytes, whichever allocator each came from.
        #[test]
        fn random_workloads_keep_blocks_apart_and_intact(
            steps in proptest::collection::vec(step(), 1..100)
        ) {
            let arena = Box::new(Arena::<{ 64 * 1024 }>::new());
            arena.claim();
            let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
            let mut newest = None;
            for (index, step) in steps.into_iter().enumerate() {
                let fill = (index % 251) as u8;
                match step {
                    Step::Alloc { size, align_shift } => {
                        let wanted = layout(size, 1 << align_shift);
                        let block = unsafe { arena.alloc(wanted) };
                        prop_assert!(!block.is_null());
                        prop_assert_eq!(block as usize % wanted.align(), 0);
                        unsafe { block.write_bytes(fill, size) };
                        live.push((block, wanted, fill));
                        newest = Some(live.len() - 1);
                    }
                    Step::Free { pick } if !live.is_empty() => {
                        let (block, wanted, byte) = live.swap_remove(pick % live.len());
                        let intact = unsafe { holds(block, wanted.size(), byte) };
                        prop_assert!(intact, "a freed block lost its bytes");
                        unsafe { arena.dealloc(block, wanted) };
                    }
                    Step::Realloc { pick, size } if !live.is_empty() => {
                        let slot = pick % live.len();
                        let (block, wanted, byte) = live[slot];
                        let moved = unsafe { arena.realloc(block, wanted, size) };
                        prop_assert!(!moved.is_null());
                        prop_assert_eq!(moved as usize % wanted.align(), 0);
                        let kept = unsafe { holds(moved, wanted.size().min(size), byte) };
                        prop_assert!(kept, "a moved block lost its bytes");
                        unsafe { moved.write_bytes(byte, size) };
                        live[slot] = (moved, layout(size, wanted.align()), byte);
                        newest = Some(slot);
                    }
                    _ => {}
                }
                // No two live blocks overlap (the newest, or moved, one is checked: the others
                // were checked when they came).
                if let Some(newest) = newest.take() {
                    let (start, end) = (live[newest].0 as usize, live[newest].0 as usize + live[newest].1.size());
                    let apart = live.iter().enumerate().all(|(index, (block, wanted, _))| {
                        index == newest
                            || *block as usize >= end
                            || *block as usize + wanted.size() <= start
                    });
                    prop_assert!(apart, "block {} overlaps another", newest);
                }
            }
            for (block, wanted, _) in live {
                unsafe { arena.dealloc(block, wanted) };
            }
        }
    }
}
