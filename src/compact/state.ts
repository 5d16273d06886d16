import { join } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MANIFESTS, manifestKey, parseCommitRecord, parseCompactedKey, type CommitRecord } from "../archive/compacted.js";
import { downloadObject, parquetCommit } from "../archive/compacted-read.js";
import type { Duck } from "../archive/duckdb.js";
import { hourPath } from "../archive/format.js";
import type { ReadCounters } from "../archive/read.js";
import { listAll, putIfAbsent } from "./s3.js";

/**
 * What is already compacted for one hour: its generations, each with the commit record from the manifest beside it,
 * or (a compactor killed between the two writes) from the Parquet footer, in which case the manifest is written now.
 */

export interface Generation {
  generation: number;
  key: string;
  size: number;
  commit: CommitRecord;
}

export interface HourState {
  generations: Generation[];
  /** `sourceId(key, etag)` of every source any generation consumed */
  consumed: Set<string>;
  manifestsRepaired: number;
}

async function getText(s3: S3Client, bucket: string, key: string, counters: ReadCounters, signal?: AbortSignal): Promise<string> {
  counters.getRequests++;
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  const text = (await out.Body?.transformToString("utf8")) ?? "";
  counters.bytesRead += Buffer.byteLength(text);
  return text;
}

/** A source is its key and ETag: a key rewritten since (by hand, without Object Lock) is a new source. */
export const sourceId = (key: string, etag: string) => `${key}\n${etag}`;

export async function loadHourState(
  s3: S3Client,
  bucket: string,
  toPrefix: string,
  hourMs: number,
  duck: Duck,
  workDir: string,
  opts: { repair: boolean },
  counters: ReadCounters,
  signal?: AbortSignal,
): Promise<HourState> {
  const listed = await listAll(s3, bucket, `${toPrefix}${hourPath(hourMs)}/`, counters, signal);
  const manifests = new Set((await listAll(s3, bucket, `${toPrefix}${MANIFESTS}${hourPath(hourMs)}/`, counters, signal)).map((o) => o.key));
  const generations: Generation[] = [];
  let manifestsRepaired = 0;
  for (const o of listed) {
    const p = parseCompactedKey(toPrefix, o.key);
    if (!p) continue;
    const mKey = manifestKey(toPrefix, hourMs, p.generation);
    let commit: CommitRecord;
    if (manifests.has(mKey)) commit = parseCommitRecord(await getText(s3, bucket, mKey, counters, signal));
    else {
      const file = join(workDir, `state-g${p.generation}.parquet`);
      await downloadObject(s3, bucket, o.key, file, counters, signal);
      commit = await parquetCommit(duck, file);
      if (opts.repair && (await putIfAbsent(s3, bucket, mKey, { data: Buffer.from(JSON.stringify(commit, null, 2)) }, "application/json", signal)) === "written") {
        manifestsRepaired++;
      }
    }
    generations.push({ generation: p.generation, key: o.key, size: o.size, commit });
  }
  generations.sort((a, b) => a.generation - b.generation);
  const consumed = new Set<string>();
  for (const g of generations) for (const s of g.commit.sources) consumed.add(sourceId(s.key, s.etag));
  return { generations, consumed, manifestsRepaired };
}
