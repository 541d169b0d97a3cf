import type { Logger } from "pino";

/**
 * What the server process does with errors no code caught. A promise rejection nobody handled
 * (typically in an agent, a hook or a config file: user code the server runs) is logged and the
 * server keeps serving: Node's default would end every thread's runs and followers for one
 * forgotten `.catch`. An uncaught exception leaves the process in an unknown state, so it is
 * logged as one JSON line (not a raw stack on stderr) and the process shuts down through `stop`.
 */
export function installProcessGuards(logger: Logger, stop: (reason: string) => void): void {
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason }, "unhandled promise rejection (kept serving)");
  });
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception: shutting down");
    stop("uncaughtException");
  });
}
