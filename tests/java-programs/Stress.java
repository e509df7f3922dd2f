// Stress: a service-like load that uses every memory region of a JVM, for a bounded time.
//
// What it models: a long-running service at its busiest, with
//  - heap: a live set of LIVE_PERCENT % of Runtime.maxMemory() (caches, sessions), churned:
//    every request replaces a few live entries and allocates short-lived garbage, so the
//    collector works with the heap nearly full and the whole heap gets committed and touched;
//  - threads: THREADS platform threads (a request pool), each recursing a little per request,
//    so their stacks hold real pages;
//  - metaspace: CLASSES hidden classes defined from one template's bytes (what frameworks
//    generate: proxies, lambdas, serializers), all kept alive;
//  - code cache: the requests call every hidden class's methods, often enough for C1 to compile
//    them and C2 the busiest;
//  - direct memory: DIRECT_MIB MiB of direct ByteBuffers (the NIO buffers of a network stack),
//    written and kept, and touched by every request.
//
// Usage: java Stress SECONDS THREADS CLASSES DIRECT_MIB [LIVE_PERCENT]
//   SECONDS counts from the moment all threads run (setup comes before it); the memory report is
//   taken then, before the workers stop.
// Exit status: 0 completed; 2 a Java OutOfMemoryError of any kind (heap, metaspace, direct
// buffer memory, native threads); 1 any other failure. A kernel OOM kill is seen by the parent
// as 137. On success the last line is "Stress: ok key=value ...": what it used, sampled near the
// end of the load (rss_peak is the whole run's peak RSS).
import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ClassLoadingMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntUnaryOperator;

public class Stress {
    static final int EXIT_FAILED = 1;
    static final int EXIT_OUT_OF_MEMORY = 2;
    /** Live entries are 8–40 KiB: many objects, none humongous for G1 at any heap size. */
    static final int MIN_ENTRY = 8 * 1024;
    static final int MAX_ENTRY = 40 * 1024;
    static final int DIRECT_BUFFER_BYTES = 1 << 20;
    static final int STACK_DEPTH = 48;
    static final int CALLS_PER_REQUEST = 24;
    static final int CACHE_UPDATE_EVERY = 8;

    static byte[][] live;
    static IntUnaryOperator[] generated;
    static final List<ByteBuffer> direct = new ArrayList<>();
    static final AtomicLong requests = new AtomicLong();
    static volatile boolean stop;
    static volatile int sink;

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: java Stress SECONDS THREADS CLASSES DIRECT_MIB [LIVE_PERCENT]");
            System.exit(EXIT_FAILED);
        }
        double seconds = Double.parseDouble(args[0]);
        int threads = Integer.parseInt(args[1]);
        int classes = Integer.parseInt(args[2]);
        int directMib = Integer.parseInt(args[3]);
        int livePercent = args.length > 4 ? Integer.parseInt(args[4]) : 85;
        Thread.setDefaultUncaughtExceptionHandler((thread, error) -> fail(thread.getName(), error));
        try {
            run(seconds, threads, classes, directMib, livePercent);
        } catch (Throwable error) {
            fail("main", error);
        }
    }

    static void run(double seconds, int threads, int classes, int directMib, int livePercent)
            throws Throwable {
        long started = System.nanoTime();
        // Direct buffers first: a service opens its network stack before it warms its caches.
        for (int i = 0; i < directMib; i++) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(DIRECT_BUFFER_BYTES);
            for (int at = 0; at < DIRECT_BUFFER_BYTES; at += 4096) {
                buffer.put(at, (byte) i);
            }
            direct.add(buffer);
        }
        generated = defineClasses(classes);
        // LIVE_PERCENT of the heap live in all: the cache tops up what setup already holds
        // (class mirrors, buffers, threads' objects), measured after a full collection.
        System.gc();
        Runtime runtime = Runtime.getRuntime();
        long setupLive = runtime.totalMemory() - runtime.freeMemory();
        fillLiveSet(runtime.maxMemory() / 100 * livePercent - setupLive);
        // The monitoring classes load now, so that sampling under load is quick.
        usage();
        long setupNanos = System.nanoTime() - started;

        List<Thread> pool = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            long seed = i;
            Thread worker = new Thread(() -> serve(new SplittableRandom(seed)), "worker-" + i);
            worker.setDaemon(true);
            worker.start();
            pool.add(worker);
        }
        // For tools that attach while the load runs (jcmd VM.native_memory).
        System.out.println("Stress: running pid=" + ProcessHandle.current().pid());
        System.out.flush();
        // What the process holds at the end of the load, taken while the workers still run.
        Thread.sleep((long) (seconds * 1000));
        String loaded = usage();
        stop = true;
        for (Thread worker : pool) {
            worker.join();
        }
        System.out.println("Stress: ok seconds_setup=" + String.format("%.2f", setupNanos / 1e9)
                + " requests=" + requests.get() + " threads=" + threads + " classes=" + classes
                + " direct_mib=" + directMib + " live_percent=" + livePercent + loaded
                + " rss_peak=" + statusBytes("VmHWM:"));
        System.exit(0);
    }

    /** CLASSES hidden classes from StressWork's bytes; each gets its own metadata and code. */
    static IntUnaryOperator[] defineClasses(int classes) throws Throwable {
        byte[] template;
        try (InputStream in = Stress.class.getResourceAsStream("StressWork.class")) {
            if (in == null) {
                throw new IOException("StressWork.class is not beside Stress.class");
            }
            template = in.readAllBytes();
        }
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        IntUnaryOperator[] result = new IntUnaryOperator[classes];
        for (int i = 0; i < classes; i++) {
            Class<?> defined = lookup.defineHiddenClass(template, true).lookupClass();
            result[i] = (IntUnaryOperator) defined.getDeclaredConstructor().newInstance();
            sink += result[i].applyAsInt(i);
        }
        return result;
    }

    static void fillLiveSet(long targetBytes) {
        SplittableRandom random = new SplittableRandom(42);
        List<byte[]> entries = new ArrayList<>();
        long held = 0;
        while (held < targetBytes) {
            byte[] entry = new byte[random.nextInt(MIN_ENTRY, MAX_ENTRY + 1)];
            entry[entry.length - 1] = 1;
            entries.add(entry);
            held += entry.length + 16;
        }
        live = entries.toArray(new byte[0][]);
    }

    /** One worker: requests until told to stop. */
    static void serve(SplittableRandom random) {
        int acc = 0;
        while (!stop) {
            acc += request(random, STACK_DEPTH);
            requests.incrementAndGet();
        }
        sink += acc;
    }

    /** A request: a few frames deep, calls generated code, builds a response, updates the cache. */
    static int request(SplittableRandom random, int depth) {
        if (depth > 0) {
            long[] frame = {depth, random.nextLong()};
            return request(random, depth - 1) + (int) frame[1];
        }
        int acc = 0;
        // Half the calls go to a hot tenth of the generated classes (C2 compiles those), the
        // rest anywhere (C1 compiles most of them).
        int hot = Math.max(1, generated.length / 10);
        for (int i = 0; i < CALLS_PER_REQUEST; i++) {
            int pick = (i & 1) == 0 ? random.nextInt(hot) : random.nextInt(generated.length);
            acc += generated[pick].applyAsInt(acc + i);
        }
        StringBuilder response = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            response.append("item-").append(acc ^ i).append(';');
        }
        acc += response.toString().hashCode();
        if (!direct.isEmpty()) {
            ByteBuffer buffer = direct.get(random.nextInt(direct.size()));
            int at = random.nextInt(DIRECT_BUFFER_BYTES / 4) * 4;
            buffer.putInt(at, buffer.getInt(at) + acc);
        }
        // Every few requests, replace one cache entry by a new one of the same size: live bytes
        // stay constant while old entries die.
        if (random.nextInt(CACHE_UPDATE_EVERY) != 0) {
            return acc;
        }
        int slot = random.nextInt(live.length);
        byte[] replaced = live[slot];
        byte[] entry = new byte[replaced.length];
        entry[random.nextInt(entry.length)] = (byte) acc;
        live[slot] = entry;
        return acc;
    }

    /** The memory the process uses now, as " key=bytes" pairs. */
    static String usage() throws IOException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        ClassLoadingMXBean loading = ManagementFactory.getClassLoadingMXBean();
        long codeCache = 0;
        long metaspace = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() != MemoryType.NON_HEAP) {
                continue;
            }
            if (pool.getName().startsWith("CodeHeap") || pool.getName().equals("CodeCache")) {
                codeCache += pool.getUsage().getCommitted();
            } else if (pool.getName().equals("Metaspace")) {
                metaspace += pool.getUsage().getCommitted();
            }
        }
        long directUsed = 0;
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                directUsed = pool.getMemoryUsed();
            }
        }
        return " loaded_classes=" + loading.getLoadedClassCount()
                + " java_threads=" + Thread.activeCount()
                + " max_heap=" + Runtime.getRuntime().maxMemory()
                + " heap_committed=" + memory.getHeapMemoryUsage().getCommitted()
                + " metaspace_committed=" + metaspace
                + " code_cache_committed=" + codeCache
                + " direct_used=" + directUsed
                + " rss=" + statusBytes("VmRSS:")
                + " rss_anon=" + statusBytes("RssAnon:")
                + " rss_file=" + statusBytes("RssFile:");
    }

    /** A "kB" line of /proc/self/status, in bytes. */
    static long statusBytes(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]) * 1024;
            }
        }
        return -1;
    }

    /** Report and exit at once, without waiting for other threads. */
    static void fail(String where, Throwable error) {
        boolean outOfMemory = error instanceof OutOfMemoryError;
        // Release the live set so that printing has room, then halt (no shutdown hooks needed).
        live = null;
        try {
            System.out.println("Stress: " + (outOfMemory ? "OutOfMemoryError" : "failed")
                    + " in " + where + ": " + error);
            System.out.flush();
        } finally {
            Runtime.getRuntime().halt(outOfMemory ? EXIT_OUT_OF_MEMORY : EXIT_FAILED);
        }
    }
}

/**
 * The template of the generated classes: Stress defines CLASSES hidden copies of these bytes.
 * Several methods with loops, so that each copy has real metadata and real compiled code.
 */
final class StressWork implements IntUnaryOperator {
    private final int[] table = new int[16];

    @Override
    public int applyAsInt(int x) {
        switch (x & 3) {
            case 0:
                return mix(x) + fold(x);
            case 1:
                return scan(x) ^ mix(x >>> 3);
            case 2:
                return fold(x) - scan(x >>> 5);
            default:
                return count(x) + mix(x);
        }
    }

    private int mix(int x) {
        int h = x;
        for (int i = 0; i < 8; i++) {
            h = h * 31 + (h >>> 7) ^ i;
        }
        return h;
    }

    private int fold(int x) {
        int acc = 0;
        for (int i = 0; i < table.length; i++) {
            table[i] += x + i;
            acc ^= table[i];
        }
        return acc;
    }

    private int scan(int x) {
        int best = Integer.MIN_VALUE;
        for (int i = 0; i < table.length; i++) {
            int v = table[(i + x) & 15] * (i + 1);
            if (v > best) {
                best = v;
            }
        }
        return best;
    }

    private int count(int x) {
        int n = 0;
        long v = ((long) x << 32) | (x * 2654435761L);
        while (v != 0) {
            v &= v - 1;
            n++;
        }
        return n;
    }
}
