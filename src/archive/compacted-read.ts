import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { COMMIT_METADATA_KEY, columnsToRowJsonSql, fromRow, parseCommitRecord, type CommitRecord, type CompactRow } from "./compacted.js";
import { openDuck, sqlString, type Duck } from "./duckdb.js";
import { BadContentError } from "./parse.js";
import type { ListedObject, ObjectInfo, ReadCallbacks, ReadCounters } from "./read-types.js";

/**
 * Reading the compacted layout: a Parquet generation is downloaded to a temporary file (Parquet's footer is at the
 * end, so it cannot be read front to back as it arrives) and its rows streamed back as envelopes, in file order.
 */

/** GetObject into `file`; returns what GetObject said about it. */
export async function downloadObject(s3: S3Client, bucket: string, key: string, file: string, counters: ReadCounters, signal?: AbortSignal): Promise<ObjectInfo> {
  counters.getRequests++;
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  counters.bytesRead += out.ContentLength ?? 0;
  const body = out.Body as Readable | undefined;
  if (!body) throw new BadContentError("READ_FAILED", "GetObject returned no body");
  await pipeline(body, createWriteStream(file));
  return {
    metadata: out.Metadata ?? {},
    ...(out.ETag ? { etag: out.ETag } : {}),
    ...(out.ContentLength !== undefined ? { contentLength: out.ContentLength } : {}),
  };
}

/** Streams a local Parquet file's rows (file order) as CompactRows. */
export async function* parquetRows(duck: Duck, file: string): AsyncGenerator<CompactRow> {
  const result = await duck.con.stream(`SELECT ${columnsToRowJsonSql()} FROM read_parquet(${sqlString(file)})`);
  for await (const rows of result.yieldRows()) {
    for (const r of rows) yield JSON.parse(String(r[0])) as CompactRow;
  }
}

/** The commit record in a local Parquet file's key-value metadata. */
export async function parquetCommit(duck: Duck, file: string): Promise<CommitRecord> {
  const r = await duck.con.run(`SELECT decode(value) AS v FROM parquet_kv_metadata(${sqlString(file)}) WHERE decode(key) = ${sqlString(COMMIT_METADATA_KEY)}`);
  const rows = await r.getRows();
  if (!rows.length) throw new BadContentError("NOT_ENVELOPE", `no ${COMMIT_METADATA_KEY} in the Parquet metadata`);
  return parseCommitRecord(String(rows[0]?.[0]));
}

/** readObject for the compacted layout (read.ts delegates here): every row as an envelope, line = row number. */
export async function readParquetObject(s3: S3Client, bucket: string, obj: ListedObject, counters: ReadCounters, cb: ReadCallbacks, signal?: AbortSignal): Promise<ObjectInfo> {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-parquet-"));
  let duck: Duck | undefined;
  try {
    const file = join(dir, "object.parquet");
    const info = await downloadObject(s3, bucket, obj.key, file, counters, signal);
    duck = await openDuck({ dir, memoryLimit: "256MB", threads: 1 });
    let commit: CommitRecord;
    try {
      commit = await parquetCommit(duck, file);
    } catch (err) {
      cb.bad(0, new BadContentError("NOT_ENVELOPE", `not a compacted generation: ${(err as Error).message}`));
      return info;
    }
    let n = 0;
    for await (const row of parquetRows(duck, file)) {
      n++;
      if (cb.stopped()) break;
      await cb.envelope(fromRow(row), n, Buffer.byteLength(row.body));
    }
    return { ...info, commit };
  } finally {
    duck?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
