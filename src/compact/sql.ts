import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { COMMIT_METADATA_KEY, rowJsonColumnsSql, rowToColumnsSql, type CommitRecord } from "../archive/compacted.js";
import { sqlString, type Duck } from "../archive/duckdb.js";

/**
 * The SQL of one generation, run on DuckDB straight over the spill files (CompactRow JSON lines, each with a row
 * number `rn` and a body hash `h`, see spillLine): one narrow aggregate per messageId (copies, distinct body hashes,
 * the row to keep), integrity checked against it and the hour's earlier generations; then each time slice of the hour
 * is sorted alone (by SentTimestamp, then SequenceNumber) into a temporary file and the slices are concatenated, in
 * order, into one zstd Parquet file whose key-value metadata is the commit record. Sorting a slice at a time is what
 * bounds memory: DuckDB's sort of a whole hour of 1 KiB rows ran out of a 256 MB memory_limit at 1M rows (measured).
 */

export interface GenerationPlan {
  /** Spill files written by spillLine, grouped by time slice of the hour (slice order = SentTimestamp order). */
  slices: string[][];
  /** Local copies of the hour's earlier generations. */
  prior: string[];
  out: string;
  /** For the sorted slice files. */
  workDir: string;
}

export interface GenerationCounts {
  rowsIn: number;
  rowsOut: number;
  duplicatesDropped: number;
  alreadyCompacted: number;
}

export interface BuiltGeneration {
  counts: GenerationCounts;
  /** messageIds (at most 100 named) with different bodies or MD5s; non-empty means nothing was written. */
  conflicts: string[];
  conflictCount: number;
  commit: CommitRecord;
  bytes: number;
}

/** One spill line: the row's JSON with its row number and body hash (the MD5 already checked against the body). */
export function spillLine(rowJson: string, rn: number, bodyHash: string): string {
  return `${rowJson.slice(0, -1)},"rn":${rn},"h":"${bodyHash}"}\n`;
}

/** SentTimestamp order; SequenceNumbers are decimal strings, compared by length first. */
const ORDER = "sent_at, length(sequence_number) NULLS FIRST, sequence_number, message_id";
/** Small row groups keep the writer's buffer small (1 MiB bodies) and let readers skip by sent_at. */
const ROW_GROUP_ROWS = 8_192;
const PRIOR_HASH = "coalesce(nullif(lower(md5_of_body), ''), md5(body))";

const list = (files: string[]) => `[${files.map(sqlString).join(", ")}]`;

async function firstRow(duck: Duck, sql: string): Promise<unknown[]> {
  const r = await duck.con.run(sql);
  return ((await r.getRows())[0] ?? []) as unknown[];
}

export async function buildGeneration(duck: Duck, plan: GenerationPlan, commitFor: (c: GenerationCounts) => CommitRecord): Promise<BuiltGeneration> {
  const c = duck.con;
  const spillOf = (files: string[]) => `read_json(${list(files)}, format = 'newline_delimited', columns = ${rowJsonColumnsSql().replace(/}$/, ", rn: 'BIGINT', h: 'VARCHAR'}")})`;
  const spill = spillOf(plan.slices.flat());
  await c.run("DROP TABLE IF EXISTS agg; DROP TABLE IF EXISTS prior; DROP TABLE IF EXISTS keep;");
  await c.run(`CREATE TABLE agg AS SELECT message_id, count(*) AS n, min(h) AS h, max(h) AS h_max, arg_min(rn, archived_at) AS rid FROM ${spill} GROUP BY message_id`);
  if (plan.prior.length) await c.run(`CREATE TABLE prior AS SELECT DISTINCT message_id, ${PRIOR_HASH} AS h FROM read_parquet(${list(plan.prior)})`);
  else await c.run("CREATE TABLE prior (message_id VARCHAR, h VARCHAR)");

  // min <> max: two body hashes under one id (a per-group DISTINCT set would not fit a bounded memory_limit).
  const conflictSql = "SELECT message_id FROM agg WHERE h <> h_max UNION SELECT a.message_id FROM agg a JOIN prior p USING (message_id) WHERE a.h <> p.h";
  const [conflictCount] = await firstRow(duck, `SELECT count(*) FROM (${conflictSql})`);
  const conflicts = Number(conflictCount) > 0 ? (await (await c.run(`${conflictSql} ORDER BY message_id LIMIT 100`)).getRows()).map((r) => String(r[0])) : [];

  const [rowsIn, already, rowsOut] = await firstRow(
    duck,
    "SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE message_id IN (SELECT message_id FROM prior)), 0), count(*) FILTER (WHERE message_id NOT IN (SELECT message_id FROM prior)) FROM agg",
  );
  const counts: GenerationCounts = {
    rowsIn: Number(rowsIn),
    rowsOut: Number(rowsOut),
    alreadyCompacted: Number(already),
    duplicatesDropped: Number(rowsIn) - Number(rowsOut) - Number(already),
  };
  const commit = commitFor(counts);
  if (conflicts.length) return { counts, conflicts, conflictCount: Number(conflictCount), commit, bytes: 0 };
  await c.run("CREATE TABLE keep AS SELECT rid FROM agg WHERE message_id NOT IN (SELECT message_id FROM prior)");
  const sorted: string[] = [];
  for (const files of plan.slices) {
    if (!files.length) continue;
    const file = join(plan.workDir, `slice-${sorted.length}.parquet`);
    await c.run(`COPY (SELECT ${rowToColumnsSql()} FROM ${spillOf(files)} WHERE rn IN (SELECT rid FROM keep) ORDER BY ${ORDER}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION lz4_raw, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`);
    sorted.push(file);
  }
  // Concatenation in list order: the one statement that needs insertion order kept.
  await c.run("SET preserve_insertion_order = true");
  const source = sorted.length ? `read_parquet(${list(sorted)})` : `(SELECT ${rowToColumnsSql()} FROM ${spill} LIMIT 0)`;
  await c.run(
    `COPY (SELECT * FROM ${source}) TO ${sqlString(plan.out)} ` +
      `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, KV_METADATA {${COMMIT_METADATA_KEY}: ${sqlString(JSON.stringify(commit))}})`,
  );
  await c.run("SET preserve_insertion_order = false");
  for (const f of sorted) rmSync(f, { force: true });
  await c.run("DROP TABLE agg; DROP TABLE prior; DROP TABLE keep;");
  return { counts, conflicts: [], conflictCount: 0, commit, bytes: existsSync(plan.out) ? statSync(plan.out).size : 0 };
}
