// FillHeap: allocate until the Java heap is full, then report.
//
// It keeps 256 KiB arrays (small enough not to be humongous objects in G1 at any heap size it
// meets) until an OutOfMemoryError, drops them, prints how much it held and exits with 3. A JVM
// whose heap limit is larger than what its cgroup allows never gets that far: the kernel
// OOM-kills it first, and its exit status is 137.
//
// Usage: java FillHeap
import java.util.ArrayList;
import java.util.List;

public class FillHeap {
    static final int CHUNK_BYTES = 256 * 1024;
    static final int EXIT_CAUGHT_OUT_OF_MEMORY = 3;

    public static void main(String[] args) {
        List<byte[]> held = new ArrayList<>();
        long heldBytes = 0;
        try {
            while (true) {
                byte[] chunk = new byte[CHUNK_BYTES];
                // Touch every page (the zeroing already did, but keep the intent explicit).
                for (int i = 0; i < chunk.length; i += 4096) {
                    chunk[i] = 1;
                }
                held.add(chunk);
                heldBytes += CHUNK_BYTES;
            }
        } catch (OutOfMemoryError e) {
            held = null;
            System.out.println("FillHeap: OutOfMemoryError after holding " + (heldBytes >> 20)
                    + " MiB; max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB");
            System.out.flush();
            System.exit(EXIT_CAUGHT_OUT_OF_MEMORY);
        }
    }
}
