import { pino, type Logger, type DestinationStream } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

/**
 * Paths that could carry a message body or a credential if someone logs a whole SDK object by mistake.
 * The service logs only ids, keys and error codes; redaction is the second line of defence.
 */
export const REDACT_PATHS = [
  "body",
  "Body",
  "*.body",
  "*.Body",
  "*.*.Body",
  "Messages",
  "*.Messages",
  "message.Body",
  "credentials",
  "*.credentials",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
];

/**
 * Where the service's log lines go by default: stdout, written synchronously. pino's default stdout stream is
 * asynchronous (sonic-boom, minLength 0): `log.flush()` is a no-op on it, and a chunk whose write is in flight when
 * process.exit runs (a pipe the log collector has not drained yet) is dropped, because the exit-time flushSync skips
 * the chunk an asynchronous write still owns. Synchronous writes make every line, the last one before exit included,
 * reach the pipe before the call returns; at the service's log volume (ids and reasons, a line per message only at
 * debug) the syscall costs microseconds. If the pipe is full the write waits for the reader (sonic-boom retries
 * EAGAIN), which is what a log collector that is alive does anyway.
 */
export function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}

export function createLogger(level: LogLevel, destination: DestinationStream = stdoutDestination()): Logger {
  return pino(
    {
      level,
      base: { service: "sqs-archiver" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
