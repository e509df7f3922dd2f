// OomCause: fill one region of a JVM's memory, step by step, until the kernel OOM-kills it.
//
// Each mode grows one thing at about 32 MiB a second (a step every 250 ms), so that in a
// 256 MiB container the kill comes some seconds after the start and whatever samples the
// container on the way sees the growth. Nothing here is meant to end in a Java
// OutOfMemoryError: the flags each mode is run with leave the JVM's own caps far above the
// container's limit.
//
//   heap       live 256 KiB arrays (run with an -Xmx far above the limit)
//   threads    platform threads, each touching part of its stack, then sleeping
//   metaspace  generated classes defined by one class loader that stays reachable
//   direct     ByteBuffer.allocateDirect buffers kept (-XX:MaxDirectMemorySize above the limit)
//   native     sun.misc.Unsafe.allocateMemory, every byte set (small -Xmx: the default direct
//              cap, the max heap, is far below what it fills)
//   pagecache  DIR: write 3 x 256 MiB of files into DIR (on a disk, not tmpfs) and read them
//              back, then fill the heap as `heap` does up to 96 MiB, and from there on without
//              a pause: the page cache is large until the last moment, and reclaimable
//   other      idle 3 s (run with a pre-touched heap), then start a shell pipeline whose `tail`
//              holds 8 MiB more every 250 ms, up to 160 MiB; the kernel kills the largest
//              process, the JVM
//
// Usage: java OomCause MODE [DIR]
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

public class OomCause {
    static final int MIB = 1 << 20;
    /** What each step adds. */
    static final int STEP_BYTES = 8 * MIB;
    static final long STEP_MILLIS = 250;
    /** Everything made is kept here, so that nothing is collected. */
    static final List<Object> KEPT = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            usage();
        }
        switch (args[0]) {
            case "heap" -> heap(Long.MAX_VALUE);
            case "threads" -> threads();
            case "metaspace" -> metaspace();
            case "direct" -> direct();
            case "native" -> nativeMemory();
            case "pagecache" -> {
                if (args.length < 2) {
                    usage();
                }
                pageCache(new File(args[1]));
                heap(PAGECACHE_STEADY_BYTES);
            }
            case "other" -> other();
            default -> usage();
        }
        // Only reached when a mode stopped growing: the kill did not come.
        System.out.println("OomCause: " + args[0] + " done without a kill");
        System.exit(4);
    }

    static void usage() {
        System.err.println("usage: java OomCause heap|threads|metaspace|direct|native|other");
        System.err.println("       java OomCause pagecache DIR");
        System.exit(2);
    }

    static void step(String mode, long bytes) throws InterruptedException {
        // One short line every 32 MiB.
        if (bytes % (4L * STEP_BYTES) == 0) {
            System.out.println("OomCause " + mode + ": " + (bytes / MIB) + " MiB");
        }
        Thread.sleep(STEP_MILLIS);
    }

    /**
     * In `pagecache`, the heap grows step by step to this much, then as fast as it can: what
     * was seen last before the kill still has the cache that the heap then took.
     */
    static final long PAGECACHE_STEADY_BYTES = 96 * MIB;

    /** Keep 256 KiB arrays, a step every 250 ms up to `steadyBytes`, then without a pause. */
    static void heap(long steadyBytes) throws InterruptedException {
        int chunk = 256 * 1024;
        for (long held = 0; ; ) {
            for (int i = 0; i < STEP_BYTES / chunk; i++) {
                byte[] array = new byte[chunk];
                for (int j = 0; j < chunk; j += 4096) {
                    array[j] = 1;
                }
                KEPT.add(array);
            }
            held += STEP_BYTES;
            if (held <= steadyBytes) {
                step("heap", held);
            }
        }
    }

    /** Threads started per step; each touches about 64 KiB of its stack. */
    static final int THREADS_PER_STEP = 100;

    static void threads() throws InterruptedException {
        for (int started = 0; ; ) {
            for (int i = 0; i < THREADS_PER_STEP; i++) {
                Thread thread = new Thread(() -> dive(400));
                thread.setDaemon(true);
                thread.start();
                KEPT.add(thread);
            }
            started += THREADS_PER_STEP;
            if (started % 400 == 0) {
                System.out.println("OomCause threads: " + started + " started");
            }
            Thread.sleep(STEP_MILLIS);
        }
    }

    /** Recurse `depth` frames deep, each with a few locals, then sleep there for good. */
    static long dive(int depth) {
        long a = depth, b = a * 3, c = b ^ a, d = c + b;
        if (depth == 0) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                return 0;
            }
        }
        return dive(depth - 1) + a + b + c + d;
    }

    /** Methods per generated class, and bytecode bytes per method. */
    static final int METHODS = 64;
    static final int CODE_BYTES = 1000;

    static final class Loader extends ClassLoader {
        Loader() {
            super(OomCause.class.getClassLoader());
        }

        Class<?> define(String name, byte[] bytes) {
            return defineClass(name, bytes, 0, bytes.length);
        }
    }

    static void metaspace() throws Exception {
        Loader loader = new Loader();
        KEPT.add(loader);
        // One class file, made once; each class is a copy under its own name (same length).
        String prefix = "OomCauseGenerated";
        byte[] template = generatedClass(prefix + "00000000");
        // The name is the first constant: after magic, versions, pool count, tag and length.
        int nameDigits = 4 + 2 + 2 + 2 + 1 + 2 + prefix.length();
        // Each class holds about 64 KiB of bytecode, which lives in metaspace.
        int perStep = STEP_BYTES / (METHODS * CODE_BYTES);
        for (int n = 0; ; ) {
            for (int i = 0; i < perStep; i++, n++) {
                String digits = String.format("%08d", n);
                byte[] bytes = template.clone();
                for (int d = 0; d < 8; d++) {
                    bytes[nameDigits + d] = (byte) digits.charAt(d);
                }
                KEPT.add(loader.define(prefix + digits, bytes));
            }
            step("metaspace", (long) n / perStep * STEP_BYTES);
        }
    }

    /**
     * A class file (version 52) named `name` with METHODS static methods `()V`, each a run of
     * `iconst_0; pop` and a `return`: straight-line code, so no stack map is needed.
     */
    static byte[] generatedClass(String name) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0xCAFEBABE);
        out.writeShort(0);
        out.writeShort(52);
        // Constant pool: 1 name, 2 Class(1), 3 java/lang/Object, 4 Class(3), 5 ()V, 6 Code,
        // then 7.. the method names.
        out.writeShort(7 + METHODS);
        out.writeByte(1);
        out.writeUTF(name);
        out.writeByte(7);
        out.writeShort(1);
        out.writeByte(1);
        out.writeUTF("java/lang/Object");
        out.writeByte(7);
        out.writeShort(3);
        out.writeByte(1);
        out.writeUTF("()V");
        out.writeByte(1);
        out.writeUTF("Code");
        for (int m = 0; m < METHODS; m++) {
            out.writeByte(1);
            out.writeUTF("m" + m);
        }
        out.writeShort(0x0001 | 0x0010 | 0x1000); // public final synthetic
        out.writeShort(2);
        out.writeShort(4);
        out.writeShort(0); // interfaces
        out.writeShort(0); // fields
        out.writeShort(METHODS);
        for (int m = 0; m < METHODS; m++) {
            out.writeShort(0x0001 | 0x0008); // public static
            out.writeShort(7 + m);
            out.writeShort(5);
            out.writeShort(1); // one attribute: Code
            out.writeShort(6);
            out.writeInt(2 + 2 + 4 + CODE_BYTES + 2 + 2);
            out.writeShort(1); // max_stack
            out.writeShort(0); // max_locals
            out.writeInt(CODE_BYTES);
            for (int i = 0; i < (CODE_BYTES - 1) / 2; i++) {
                out.writeByte(0x03); // iconst_0
                out.writeByte(0x57); // pop
            }
            for (int i = 2 * ((CODE_BYTES - 1) / 2); i < CODE_BYTES - 1; i++) {
                out.writeByte(0x00); // nop
            }
            out.writeByte(0xB1); // return
            out.writeShort(0); // exception table
            out.writeShort(0); // attributes
        }
        out.writeShort(0); // class attributes
        out.flush();
        return bytes.toByteArray();
    }

    static void direct() throws InterruptedException {
        int chunk = MIB;
        for (long held = 0; ; ) {
            for (int i = 0; i < STEP_BYTES / chunk; i++) {
                // allocateDirect zeroes the memory: every page is touched.
                KEPT.add(ByteBuffer.allocateDirect(chunk));
            }
            held += STEP_BYTES;
            step("direct", held);
        }
    }

    static void nativeMemory() throws Exception {
        // Through reflection: sun.misc.Unsafe (module jdk.unsupported) is open to it, and javac
        // has no warning to give.
        Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
        Field field = unsafeClass.getDeclaredField("theUnsafe");
        field.setAccessible(true);
        Object unsafe = field.get(null);
        Method allocate = unsafeClass.getMethod("allocateMemory", long.class);
        Method set = unsafeClass.getMethod("setMemory", long.class, long.class, byte.class);
        for (long held = 0; ; ) {
            long address = (long) allocate.invoke(unsafe, (long) STEP_BYTES);
            set.invoke(unsafe, address, (long) STEP_BYTES, (byte) 1);
            KEPT.add(address);
            held += STEP_BYTES;
            step("native", held);
        }
    }

    /** Write 3 x 256 MiB of files into `dir`, then read them back. */
    static void pageCache(File dir) throws IOException {
        byte[] block = new byte[MIB];
        java.util.Arrays.fill(block, (byte) 'x');
        List<File> files = new ArrayList<>();
        for (int f = 0; f < 3; f++) {
            File file = new File(dir, "oomcause-" + f + ".data");
            try (FileOutputStream out = new FileOutputStream(file)) {
                for (int i = 0; i < 256; i++) {
                    out.write(block);
                }
                out.getFD().sync();
            }
            files.add(file);
        }
        for (File file : files) {
            try (InputStream in = new FileInputStream(file)) {
                while (in.read(block) > 0) {
                }
            }
        }
        System.out.println("OomCause pagecache: wrote and read 768 MiB");
    }

    static void other() throws Exception {
        Thread.sleep(3000);
        // tail keeps all of a stream without newlines; the loop feeds it 8 MiB every 250 ms.
        String filler = "i=0; while [ $i -lt 20 ]; do head -c 8m /dev/zero; sleep 0.25;"
                + " i=$((i+1)); done | tail >/dev/null";
        Process process = new ProcessBuilder("sh", "-c", filler).inheritIO().start();
        KEPT.add(process);
        System.out.println("OomCause other: started the filler, pid " + process.pid());
        process.waitFor();
    }
}
