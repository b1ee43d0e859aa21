/**
 * The last line of defence of `nsync run`. Every failure nsync expects — the API server going away
 * in the middle of a shutdown included — is handled where it happens, so an unhandled rejection or
 * an uncaught exception is a bug. Node's default (a stack on stderr, exit 1) would look like any
 * fatal error and leave no JSON log line; this logs one fatal line that names it and exits with a
 * code of its own, which operators can alert on and the fault tests check for.
 */
import { describeError } from '../app/events.ts';
import type { Logger } from '../app/log.ts';

/** Exit code of a bug: an unhandled rejection or uncaught exception (EX_SOFTWARE of sysexits.h). */
export const EXIT_BUG = 70;

/** Installs the process-wide handlers; call once, when the logger exists. */
export function exitOnBug(log: Logger): void {
  const die =
    (what: string) =>
    (error: unknown): void => {
      // A stack names code locations only; messages are the ones describeError logs everywhere.
      const stack = error instanceof Error ? error.stack : undefined;
      log.fatal(
        { err: { ...describeError(error), ...(stack === undefined ? {} : { stack }) } },
        `${what}: a bug in nsync`,
      );
      log.flush();
      process.exit(EXIT_BUG);
    };
  process.on('unhandledRejection', die('unhandled rejection'));
  process.on('uncaughtException', die('uncaught exception'));
}
