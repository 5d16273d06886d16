/**
 * The one set of value checks for the service's configuration (config.ts) and every CLI command's flags and
 * variables: each returns what is wrong with a value, or undefined when it is fine. The caller names the variable or
 * flag; the text says what is allowed.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const QUEUE_URL_EXAMPLE = "https://sqs.eu-west-1.amazonaws.com/123456789012/my-queue";
const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function bucketProblem(v: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) || v.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(v)) {
    return "must be a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-'; no ARN, no s3:// prefix)";
  }
  return undefined;
}

export function prefixProblem(v: string): string | undefined {
  if (v.startsWith("/")) return "must not start with '/' (S3 keys have no leading slash)";
  if (Buffer.byteLength(v, "utf8") > 512) return "must be at most 512 bytes";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) return "must not contain control characters";
  return undefined;
}

export function queueUrlProblem(v: string): string | undefined {
  const problem = `must be an SQS queue URL such as ${QUEUE_URL_EXAMPLE}`;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return problem;
  }
  const parts = url.pathname.split("/").filter(Boolean);
  return /^https?:$/.test(url.protocol) && parts.length === 2 && /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(parts[1] ?? "") ? undefined : problem;
}

export function regionProblem(v: string): string | undefined {
  return REGION_RE.test(v) ? undefined : "must be an AWS region such as eu-west-1";
}

export function urlProblem(v: string): string | undefined {
  try {
    if (/^https?:$/.test(new URL(v).protocol)) return undefined;
  } catch {
    /* not a URL */
  }
  return "must be an http(s) URL";
}

export function logLevelProblem(v: string): string | undefined {
  return (LOG_LEVELS as readonly string[]).includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(", ")}`;
}

export function booleanProblem(v: string): string | undefined {
  return v === "true" || v === "false" ? undefined : "must be true or false";
}

/** `NAME=VALUE: problem`, the form of every configuration line (VALUE quoted; `(unset)` when there is none). */
export function problemLine(name: string, value: string | undefined, problem: string): string {
  return `${name}=${value === undefined || value === "" ? "(unset)" : JSON.stringify(value)}: ${problem}`;
}
