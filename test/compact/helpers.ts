/**
 * Shared by the compaction suites: read what `sqs-archiver compact` wrote (every generation of every hour under a
 * compacted prefix, with DuckDB) and send messages whose SentTimestamp lies in a closed hour.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { vi } from "vitest";
import { COMMIT_METADATA_KEY, fromRow, manifestKey, parseCommitRecord, parseCompactedKey, type CommitRecord, type CompactRow } from "../../src/archive/compacted.js";
import { parquetRows } from "../../src/archive/compacted-read.js";
import { openDuck } from "../../src/archive/duckdb.js";
import type { Envelope } from "../../src/archive/envelope.js";
import { getBytes } from "../support/archive-reader.js";
import type { Backend } from "../support/harness.js";

export interface CompactedRow {
  key: string;
  generation: number;
  row: CompactRow;
  envelope: Envelope;
}

export interface CompactedHourFile {
  key: string;
  generation: number;
  commit: CommitRecord;
  manifest?: CommitRecord;
  rows: CompactedRow[];
  columns: Array<{ name: string; type: string }>;
}

/** Every compacted generation under toPrefix, rows in file order, with its footer commit record and its manifest. */
export async function readCompacted(backend: Backend, bucket: string, toPrefix: string): Promise<CompactedHourFile[]> {
  const keys = await backend.listKeys(bucket, toPrefix);
  const dir = mkdtempSync(join(tmpdir(), "compacted-read-"));
  const duck = await openDuck({ dir, memoryLimit: "256MB", threads: 1 });
  try {
    const out: CompactedHourFile[] = [];
    for (const key of keys) {
      const p = parseCompactedKey(toPrefix, key);
      if (!p) continue;
      const file = join(dir, `${out.length}.parquet`);
      writeFileSync(file, await getBytes(backend, bucket, key));
      const kv = await (await duck.con.run(`SELECT decode(value) FROM parquet_kv_metadata('${file}') WHERE decode(key) = '${COMMIT_METADATA_KEY}'`)).getRows();
      const cols = await (await duck.con.run(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${file}'))`)).getRows();
      const rows: CompactedRow[] = [];
      for await (const row of parquetRows(duck, file)) rows.push({ key, generation: p.generation, row, envelope: fromRow(row) });
      const mKey = manifestKey(toPrefix, p.hourMs, p.generation);
      const manifest = keys.includes(mKey) ? parseCommitRecord(await backend.getText(bucket, mKey)) : undefined;
      out.push({ key, generation: p.generation, commit: parseCommitRecord(String(kv[0]?.[0])), ...(manifest ? { manifest } : {}), rows, columns: cols.map((c) => ({ name: String(c[0]), type: String(c[1]) })) });
    }
    return out;
  } finally {
    duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const allRows = (files: CompactedHourFile[]) => files.flatMap((f) => f.rows);

/**
 * Sends with the emulator's clock (it runs in this process) set to `atMs`: SentTimestamp is what SQS stamps, so this
 * is how a message of a closed hour (a backlog, a redelivery after an outage) reaches the real service.
 */
export async function sendAt<T>(atMs: number, send: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ["Date"], now: atMs });
  try {
    return await send();
  } finally {
    vi.useRealTimers();
  }
}

export type Attrs = Record<string, MessageAttributeValue>;
