import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { ArchiveCompression } from "../config.js";
import type { Envelope } from "./envelope.js";
import { byExtension, createDecompressor, hourPrefixes, parseArchiveKey } from "./format.js";
import { BadContentError, checkEnvelope } from "./parse.js";
import type { ListedObject, ObjectInfo, ReadCallbacks, ReadCounters } from "./read-types.js";

export type { ListedObject, ObjectInfo, ReadCallbacks, ReadCounters } from "./read-types.js";

/**
 * The archive-reading layer every reader shares (replay, compaction, verification): listing a window's hour
 * prefixes and streaming each object, whatever its layout or codec, as envelopes with their line numbers. S3
 * commands used: ListObjectsV2, GetObject.
 */

/** Lists only the hour prefixes covering [sinceMs, untilMs), oldest hour first; non-archive keys are ignored. */
export async function listWindow(
  s3: S3Client,
  bucket: string,
  prefix: string,
  sinceMs: number,
  untilMs: number,
  counters: ReadCounters,
  signal?: AbortSignal,
  onIgnored?: (key: string) => void,
): Promise<{ objects: ListedObject[]; ignored: number }> {
  const objects: ListedObject[] = [];
  let ignored = 0;
  for (const hp of hourPrefixes(prefix, sinceMs, untilMs)) {
    let token: string | undefined;
    do {
      signal?.throwIfAborted();
      counters.listRequests++;
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: hp, ContinuationToken: token }), { abortSignal: signal });
      for (const o of out.Contents ?? []) {
        const parsed = o.Key ? (parseArchiveKey(prefix, o.Key) ?? byExtension(hp, o.Key)) : null;
        if (!parsed || !o.Key) {
          ignored++;
          onIgnored?.(o.Key ?? "");
          continue;
        }
        objects.push({ key: o.Key, size: o.Size ?? 0, parsed, ...(o.ETag ? { etag: o.ETag } : {}) });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }
  return { objects, ignored };
}

/** Splits a byte stream on "\n" (an envelope never holds a raw newline: JSON escapes it), keeping bytes until a line ends. */
export async function* lines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  // Pieces of a line not yet ended: kept as a list and joined once, so a 1 MiB line arriving in 16 KiB chunks is
  // copied once, not once per chunk.
  let pending: Buffer[] = [];
  for await (const raw of stream) {
    const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (pending.length) {
        pending.push(piece);
        yield Buffer.concat(pending);
        pending = [];
      } else yield piece;
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) {
    const last = Buffer.concat(pending);
    if (last.length > 0) yield last;
  }
}

function parseLine(text: string, n: number, cb: ReadCallbacks): Envelope | undefined {
  let checked: ReturnType<typeof checkEnvelope>;
  try {
    checked = checkEnvelope(text);
  } catch (err) {
    if (err instanceof BadContentError) {
      cb.bad(n, err);
      return undefined;
    }
    throw err;
  }
  if (checked.md5Mismatch) {
    if (!cb.md5Mismatch) {
      cb.bad(n, checked.md5Mismatch);
      return undefined;
    }
    cb.md5Mismatch(n, checked.md5Mismatch);
  }
  return checked.env;
}

/**
 * Streams one object: a message-layout object is one envelope (line 1); an NDJSON object is decompressed as it
 * arrives (codec from the key) and read a line at a time. Bad lines and a broken stream (a truncated gzip) are
 * reported through `bad` with the line number; lines before the break are still delivered.
 */
export async function readObject(
  s3: S3Client,
  bucket: string,
  obj: ListedObject,
  counters: ReadCounters,
  cb: ReadCallbacks,
  signal?: AbortSignal,
): Promise<ObjectInfo> {
  if (obj.parsed.layout === "parquet") {
    // Loaded on first use: only readers of the compacted layout need DuckDB.
    const { readParquetObject } = await import("./compacted-read.js");
    return readParquetObject(s3, bucket, obj, counters, cb, signal);
  }
  counters.getRequests++;
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: obj.key }), { abortSignal: signal });
  counters.bytesRead += out.ContentLength ?? 0;
  const info: ObjectInfo = {
    metadata: out.Metadata ?? {},
    ...(out.ETag ? { etag: out.ETag } : {}),
    ...(out.ContentLength !== undefined ? { contentLength: out.ContentLength } : {}),
  };
  const body = out.Body as Readable | undefined;
  if (!body) throw new BadContentError("READ_FAILED", "GetObject returned no body");
  if (obj.parsed.layout === "message") await readMessageObject(body, cb);
  else await readNdjsonObject(body, obj.parsed.compression, cb, signal);
  return info;
}

/** One line's envelope to `cb.envelope`, or its problem to `cb.bad`; other errors are not the line's. */
async function deliver(text: string, line: number, bytes: number, cb: ReadCallbacks): Promise<void> {
  const env = parseLine(text, line, cb);
  if (env) await cb.envelope(env, line, bytes);
}

async function readMessageObject(body: Readable, cb: ReadCallbacks): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  await deliver(text, 1, Buffer.byteLength(text), cb);
}

async function readNdjsonObject(body: Readable, compression: ArchiveCompression, cb: ReadCallbacks, signal: AbortSignal | undefined): Promise<void> {
  const decompressor = createDecompressor(compression);
  let stream: Readable = body;
  if (decompressor) {
    body.on("error", (err) => decompressor.destroy(err));
    stream = body.pipe(decompressor);
  }
  let n = 0;
  try {
    for await (const line of lines(stream)) {
      n++;
      if (cb.stopped()) break;
      if (line.length === 0 || (line.length === 1 && line[0] === 13)) continue;
      await deliver(line.toString("utf8"), n, line.length, cb);
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    cb.bad(n + 1, new BadContentError("READ_FAILED", `${compression === "none" ? "read" : compression} stream failed after line ${n}: ${(err as Error).message}`));
  } finally {
    stream.destroy();
    body.destroy();
  }
}
