import { createHash } from "node:crypto";
import type { Transform } from "node:stream";
import { createGunzip, createGzip, createZstdCompress, createZstdDecompress, constants as zlibConstants } from "node:zlib";
import type { ArchiveCompression } from "../config.js";
import { MalformedMessageError } from "../errors.js";

/**
 * The two archive layouts and everything a writer and a reader must agree on: key shapes, the hour partition and the
 * compression codecs. Pure except for the codec factories, which only build zlib streams.
 *
 * - message layout: `${prefix}YYYY/MM/DD/HH/<MessageId>.json`, one envelope per object.
 * - ndjson layout:  `${prefix}YYYY/MM/DD/HH/<first SentTimestamp ms>-<16 hex>.ndjson[.gz|.zst]`, one envelope per line.
 */

/** SQS did not exist before 2006; anything earlier (0 from an empty attribute included) is corrupt. */
export const MIN_SENT_TIMESTAMP_MS = Date.UTC(2006, 0, 1);
/** The last millisecond a four-digit-year key (and `toISOString()`) can represent. */
export const MAX_SENT_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function isValidSentTimestamp(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_SENT_TIMESTAMP_MS && ms <= MAX_SENT_TIMESTAMP_MS;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `YYYY/MM/DD/HH` in UTC: the partition every layout shares, so one listing per hour finds both. */
export function hourPath(sentTimestampMs: number): string {
  const d = new Date(sentTimestampMs);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
}

/** Start of the UTC hour holding `ms`. */
export function hourStart(ms: number): number {
  return Math.floor(ms / 3_600_000) * 3_600_000;
}

export const NDJSON_EXTENSIONS: Record<ArchiveCompression, string> = {
  gzip: ".ndjson.gz",
  zstd: ".ndjson.zst",
  none: ".ndjson",
};

export const NDJSON_CONTENT_TYPE = "application/x-ndjson";
export const CONTENT_ENCODINGS: Record<ArchiveCompression, string | undefined> = { gzip: "gzip", zstd: "zstd", none: undefined };

/**
 * Sorted ids, so the same set of messages always names the same key: a batch rebuilt from the same messages (a retry)
 * lands on the same key and write-once answers 412 instead of storing it twice.
 */
export function batchIdHash(messageIds: readonly string[]): string {
  const h = createHash("sha256");
  for (const id of [...messageIds].sort()) h.update(id).update("\n");
  return h.digest("hex").slice(0, 16);
}

export function buildBatchKey(prefix: string, firstSentTimestampMs: number, messageIds: readonly string[], compression: ArchiveCompression): string {
  return batchObjectKey(prefix, firstSentTimestampMs, messageIds, NDJSON_EXTENSIONS[compression]);
}

/** buildBatchKey for an object whose encoder names its own suffix (see src/archive/object-encoder.ts). */
export function batchObjectKey(prefix: string, firstSentTimestampMs: number, messageIds: readonly string[], extension: string): string {
  if (!isValidSentTimestamp(firstSentTimestampMs)) throw new MalformedMessageError(`batch has no valid first SentTimestamp (${firstSentTimestampMs})`);
  if (messageIds.length === 0) throw new MalformedMessageError("batch has no messages");
  return `${prefix}${hourPath(firstSentTimestampMs)}/${firstSentTimestampMs}-${batchIdHash(messageIds)}${extension}`;
}

/** `byHand`: named by someone else (see byExtension), so the name carries no message id, first timestamp or hash. */
export type ParsedArchiveKey =
  | { layout: "message"; hour: string; messageId: string; byHand?: true }
  | { layout: "ndjson"; hour: string; compression: ArchiveCompression; firstSentTimestampMs: number; hash: string; byHand?: true }
  /** A generation written by `sqs-archiver compact` (src/archive/compacted.ts). */
  | { layout: "parquet"; hour: string; generation: number };

const KEY_RE = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(?:([A-Za-z0-9-]+)\.json|(\d+)-([0-9a-f]{16})\.ndjson(\.gz|\.zst)?|g(\d{6})\.parquet)$/;

/** Which layout a key belongs to (and its codec), or null for anything that is not an archive object under prefix. */
export function parseArchiveKey(prefix: string, key: string): ParsedArchiveKey | null {
  if (!key.startsWith(prefix)) return null;
  const m = KEY_RE.exec(key.slice(prefix.length));
  if (!m) return null;
  const hour = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:00:00Z`;
  if (m[5]) return { layout: "message", hour, messageId: m[5] };
  if (m[9]) return { layout: "parquet", hour, generation: Number(m[9]) };
  const compression: ArchiveCompression = m[8] === ".gz" ? "gzip" : m[8] === ".zst" ? "zstd" : "none";
  return { layout: "ndjson", hour, compression, firstSentTimestampMs: Number(m[6]), hash: m[7] as string };
}

/** The hour prefixes (`${prefix}YYYY/MM/DD/HH/`) covering [sinceMs, untilMs), oldest first. */
export function hourPrefixes(prefix: string, sinceMs: number, untilMs: number): string[] {
  const out: string[] = [];
  for (let h = hourStart(sinceMs); h < untilMs; h += 3_600_000) out.push(`${prefix}${hourPath(h)}/`);
  return out;
}

/** A streaming compressor; `null` for none. Compression runs on libuv's threadpool, off the event loop. */
export function createCompressor(compression: ArchiveCompression): Transform | null {
  switch (compression) {
    case "gzip":
      // Level 6 is zlib's default; the benchmark showed lower levels save little CPU on JSON envelopes.
      return createGzip({ level: 6 });
    case "zstd":
      return createZstdCompress({ params: { [zlibConstants.ZSTD_c_compressionLevel]: 3 } });
    case "none":
      return null;
  }
}

/** Output chunk of the decompressors: 4x zlib's 16 KiB default, a quarter of the threadpool round trips per object read. */
const DECOMPRESS_CHUNK = 64 * 1024;

export function createDecompressor(compression: ArchiveCompression): Transform | null {
  switch (compression) {
    case "gzip":
      return createGunzip({ chunkSize: DECOMPRESS_CHUNK });
    case "zstd":
      return createZstdDecompress({ chunkSize: DECOMPRESS_CHUNK });
    case "none":
      return null;
  }
}

/**
 * A key under an hour prefix that is not named as the writers name objects (copied or renamed by hand) is still read
 * when its extension says what it holds: `.json` one envelope, `.ndjson[.gz|.zst]` one per line. Anything else is
 * not archive content and is skipped (and logged).
 */
export function byExtension(hourPrefix: string, key: string): ParsedArchiveKey | null {
  const rest = key.slice(hourPrefix.length);
  if (!key.startsWith(hourPrefix) || rest.includes("/")) return null;
  const hour = hourPrefix.slice(-14, -1).replace(/^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})$/, "$1-$2-$3T$4:00:00Z");
  if (rest.endsWith(".json")) return { layout: "message", hour, messageId: rest.slice(0, -5), byHand: true };
  const m = /\.ndjson(\.gz|\.zst)?$/.exec(rest);
  if (!m) return null;
  return { layout: "ndjson", hour, compression: m[1] === ".gz" ? "gzip" : m[1] === ".zst" ? "zstd" : "none", firstSentTimestampMs: 0, hash: "", byHand: true };
}
