import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * A small HTTP service as a user would write one with the JDK alone: every request allocates
 * 1 MiB, touches it, and keeps the last 32 such buffers alive (32 MiB of live data under load),
 * then answers "ok" (the same length every time, as the load tool checks). Runs until SIGTERM; the shutdown hook stops the server in
 * order and prints "AllocService: stopped" on stdout.
 *
 * Usage: java AllocService PORT [THREADS]   (THREADS default 50, the load's concurrency)
 */
public class AllocService {
    private static final int KEEP = 32;
    private static final byte[][] kept = new byte[KEEP][];
    private static long served;

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 128);
        server.createContext("/", exchange -> {
            byte[] buffer = new byte[1 << 20];
            for (int i = 0; i < buffer.length; i += 4096) {
                buffer[i] = (byte) i;
            }
            synchronized (kept) {
                kept[(int) (served++ % KEEP)] = buffer;
            }
            byte[] body = "ok\n".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(threads));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(1);
            System.out.println("AllocService: stopped");
            System.out.flush();
        }));
        server.start();
        System.out.println("AllocService: listening on " + port);
        System.out.flush();
    }
}
