import { MalformedMessageError } from "../errors.js";
import { hourPath, isValidSentTimestamp, MAX_SENT_TIMESTAMP_MS, MIN_SENT_TIMESTAMP_MS, parseArchiveKey } from "./format.js";

/**
 * `${prefix}YYYY/MM/DD/HH/<MessageId>.json`, the hour in UTC from SentTimestamp: a redelivered message carries the
 * same SentTimestamp and MessageId, so every delivery maps to the same key and write-once can detect it.
 */
export function buildKey(prefix: string, messageId: string, sentTimestampMs: number): string {
  if (!isValidSentTimestamp(sentTimestampMs)) {
    throw new MalformedMessageError(
      `message ${messageId} has SentTimestamp ${String(sentTimestampMs)}, outside ${MIN_SENT_TIMESTAMP_MS}..${MAX_SENT_TIMESTAMP_MS}`,
      "SENT_TIMESTAMP_INVALID",
    );
  }
  if (!/^[A-Za-z0-9-]{1,128}$/.test(messageId)) {
    throw new MalformedMessageError(`message id ${JSON.stringify(messageId.slice(0, 200))} is not a valid SQS message id`);
  }
  return `${prefix}${hourPath(sentTimestampMs)}/${messageId}.json`;
}

/** Inverse of buildKey, for replay tooling and tests: null when the key is not a message-layout key under prefix. */
export function parseKey(prefix: string, key: string): { messageId: string; hour: string } | null {
  const p = parseArchiveKey(prefix, key);
  return p?.layout === "message" ? { messageId: p.messageId, hour: p.hour } : null;
}
