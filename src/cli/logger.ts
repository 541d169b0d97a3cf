import pino, { type Logger } from "pino";

/** Log lines buffered for a stdout that does not keep up; past it, lines are dropped. */
const MAX_BUFFERED = 8 << 20;

export interface CliLogger {
  logger: Logger;
  /**
   * Writes out what is buffered (at most `timeoutMs`) and detaches from stdout, so that exiting
   * never waits on it. Call right before `process.exit`.
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The server's logger: pino writing to stdout asynchronously, so a slow reader never blocks the
 * event loop (lines past `MAX_BUFFERED` are dropped), and a reader that is gone (`threadline serve
 * | head`) never blocks shutdown. pino flushes its destination synchronously when the process
 * exits, and that flush retries forever on a pipe whose reader went away (EPIPE): `close()` ends
 * the destination first, so nothing is left for that flush to wait on.
 */
export function createCliLogger(level: string): CliLogger {
  const destination = pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED });
  // A write error must not become an unhandled 'error' (pino itself stops writing on EPIPE);
  // once stdout failed there is nothing left to wait for.
  let failed = false;
  let wake: (() => void) | undefined;
  destination.on("error", () => {
    failed = true;
    wake?.();
  });
  const logger = pino({ level, base: { service: "threadline" } }, destination);
  return {
    logger,
    async close(timeoutMs = 1_000) {
      await new Promise<void>((resolve) => {
        if (failed) return resolve();
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        wake = done;
        destination.once("close", done);
        destination.end();
      });
      // Still open (a reader that never reads): cut it off; the exit-time flush then skips it.
      destination.destroy();
    },
  };
}
