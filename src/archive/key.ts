import { MalformedMessageError } from "../errors.js";

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * `${prefix}YYYY/MM/DD/HH/<MessageId>.json`, the hour in UTC from SentTimestamp: a redelivered message carries the
 * same SentTimestamp and MessageId, so every delivery maps to the same key and write-once can detect it.
 */
export function buildKey(prefix: string, messageId: string, sentTimestampMs: number): string {
  if (!Number.isFinite(sentTimestampMs) || sentTimestampMs < 0) {
    throw new MalformedMessageError(`message ${messageId} has no valid SentTimestamp`);
  }
  if (!/^[A-Za-z0-9-]{1,128}$/.test(messageId)) {
    throw new MalformedMessageError(`message id ${JSON.stringify(messageId.slice(0, 200))} is not a valid SQS message id`);
  }
  const d = new Date(sentTimestampMs);
  return `${prefix}${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${messageId}.json`;
}

/** Inverse of buildKey, for replay tooling and tests: null when the key is not an archive key under prefix. */
export function parseKey(prefix: string, key: string): { messageId: string; hour: string } | null {
  if (!key.startsWith(prefix)) return null;
  const m = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([A-Za-z0-9-]+)\.json$/.exec(key.slice(prefix.length));
  if (!m) return null;
  return { messageId: m[5] as string, hour: `${m[1]}-${m[2]}-${m[3]}T${m[4]}:00:00Z` };
}
