/**
 * Does nothing for a while: a JVM to look at from outside (its performance data, its flags).
 *
 * Usage: java Idle MILLISECONDS
 */
public class Idle {
    public static void main(String[] args) throws InterruptedException {
        Thread.sleep(Long.parseLong(args[0]));
    }
}
