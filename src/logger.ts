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

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
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
