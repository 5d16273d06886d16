import type { Envelope } from "../archive/envelope.js";
import { batchIdHash, hourStart, type ParsedArchiveKey } from "../archive/format.js";
import { sentTimestampOf } from "../archive/parse.js";

/**
 * The checks of one object and its lines against what its key and metadata claim (pure). Each returns the problem's
 * detail text, or undefined when the check passes (or cannot apply).
 */

/**
 * The envelope's SentTimestamp must fall in the hour its key names (the partition every reader lists). `keyHourMs`
 * is Date.parse(parsed.hour), computed once per object by the caller.
 */
export function wrongHour(env: Envelope, parsed: ParsedArchiveKey, keyHourMs = Date.parse(parsed.hour)): string | undefined {
  const sent = sentTimestampOf(env);
  if (sent === undefined || hourStart(sent) === keyHourMs) return undefined;
  return `SentTimestamp ${sent} (${new Date(sent).toISOString()}) is not in the key's hour ${parsed.hour}`;
}

/** A message-layout key names its message: `<MessageId>.json`. A key named by hand names nothing. */
export function keyIdMismatch(env: Envelope, parsed: ParsedArchiveKey): string | undefined {
  if (parsed.layout !== "message" || parsed.byHand || parsed.messageId === env.messageId) return undefined;
  return `key names message ${parsed.messageId}, the envelope is message ${env.messageId}`;
}

/**
 * A batched key's 16 hex digits are the hash of its messages' sorted ids. `ids` is undefined when some line had no
 * readable id (a malformed line: reported on its own), so the hash cannot be recomputed.
 */
export function batchHashMismatch(parsed: ParsedArchiveKey, ids: readonly string[] | undefined): string | undefined {
  if (parsed.layout !== "ndjson" || parsed.byHand || ids === undefined || ids.length === 0) return undefined;
  const actual = batchIdHash(ids);
  if (actual === parsed.hash) return undefined;
  return `key hash ${parsed.hash}, the hash of the object's ${ids.length} sorted ids is ${actual}`;
}

/** The writer's `message-count` metadata against the lines the object holds; no metadata, nothing to check. */
export function countMismatch(metadata: Readonly<Record<string, string>>, held: number): string | undefined {
  const raw = metadata["message-count"];
  if (raw === undefined) return undefined;
  if (/^\d+$/.test(raw) && Number(raw) === held) return undefined;
  return `metadata message-count ${JSON.stringify(raw)}, the object holds ${held} lines`;
}
