/**
 * Structured JSON logs (pino). Log lines carry object references and reasons, never data values:
 * no code path hands Secret or ConfigMap content to the logger.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Log levels accepted by --log-level. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A JSON logger, on stderr by default (stdout stays free for command output such as `nsync explain`). */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'nsync' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Defence in depth: should an object ever reach a log call, its content is cut out.
      redact: {
        paths: ['*.data', '*.binaryData', '*.stringData', 'data', 'binaryData', 'stringData'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}
