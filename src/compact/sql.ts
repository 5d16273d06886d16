import { existsSync, statSync } from "node:fs";
import { COMMIT_METADATA_KEY, COMPACTED_COLUMNS, rowJsonColumnsSql, rowToColumnsSql, type CommitRecord } from "../archive/compacted.js";
import { sqlString, type Duck } from "../archive/duckdb.js";

/**
 * The SQL of one generation, run on DuckDB: load the spill files (CompactRow lines), check integrity against the
 * hour's earlier generations, keep one row per messageId not already compacted, and write them sorted by
 * SentTimestamp then SequenceNumber to a zstd Parquet file whose key-value metadata is the commit record.
 */

export interface GenerationPlan {
  /** Spill files, CompactRow JSON lines. */
  spill: string[];
  /** Local copies of the hour's earlier generations. */
  prior: string[];
  out: string;
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

/** What identifies a body: its MD5 (already checked against the body when the envelope was read), else computed. */
const BODY_HASH = "coalesce(nullif(lower(md5_of_body), ''), md5(body))";
/** The row kept of several deliveries of one message: the earliest archived, then the first source key. */
const PICK = "row_number() OVER (PARTITION BY message_id ORDER BY archived_at NULLS LAST, source_key) = 1";
/** SentTimestamp order; SequenceNumbers are decimal strings, compared by length first. */
const ORDER = "sent_at, length(sequence_number) NULLS FIRST, sequence_number, message_id";
const ROW_GROUP_ROWS = 32_768;

const list = (files: string[]) => `[${files.map(sqlString).join(", ")}]`;

async function scalarRow(duck: Duck, sql: string): Promise<unknown[]> {
  const r = await duck.con.run(sql);
  return ((await r.getRows())[0] ?? []) as unknown[];
}

export async function buildGeneration(duck: Duck, plan: GenerationPlan, commitFor: (c: GenerationCounts) => CommitRecord): Promise<BuiltGeneration> {
  const c = duck.con;
  await c.run("DROP TABLE IF EXISTS raw; DROP TABLE IF EXISTS prior;");
  // 32 MiB per line: a 1 MiB body of control characters is ~6 MiB once JSON-escaped.
  await c.run(
    `CREATE TABLE raw AS SELECT ${rowToColumnsSql()} FROM read_json(${list(plan.spill)}, format = 'newline_delimited', columns = ${rowJsonColumnsSql()}, maximum_object_size = 33554432)`,
  );
  if (plan.prior.length) await c.run(`CREATE TABLE prior AS SELECT message_id, ${BODY_HASH} AS h FROM read_parquet(${list(plan.prior)})`);
  else await c.run("CREATE TABLE prior (message_id VARCHAR, h VARCHAR)");

  const conflictSql = `SELECT message_id FROM (SELECT message_id, ${BODY_HASH} AS h, lower(md5_of_body) AS m FROM raw UNION ALL SELECT message_id, h, h FROM prior) GROUP BY message_id HAVING count(DISTINCT h) > 1 OR count(DISTINCT m) > 1`;
  const [conflictCount] = await scalarRow(duck, `SELECT count(*) FROM (${conflictSql})`);
  const conflicts = Number(conflictCount) > 0 ? ((await (await c.run(`${conflictSql} ORDER BY message_id LIMIT 100`)).getRows()).map((r) => String(r[0]))) : [];

  const [rowsIn, ids, already, alreadyIds] = await scalarRow(
    duck,
    "SELECT count(*), count(DISTINCT message_id), count(*) FILTER (WHERE message_id IN (SELECT message_id FROM prior)), count(DISTINCT message_id) FILTER (WHERE message_id IN (SELECT message_id FROM prior)) FROM raw",
  );
  const rowsOut = Number(ids) - Number(alreadyIds);
  const counts: GenerationCounts = {
    rowsIn: Number(rowsIn),
    rowsOut,
    alreadyCompacted: Number(already),
    duplicatesDropped: Number(rowsIn) - rowsOut - Number(already),
  };
  const commit = commitFor(counts);
  if (conflicts.length) return { counts, conflicts, conflictCount: Number(conflictCount), commit, bytes: 0 };
  const cols = COMPACTED_COLUMNS.map(([n]) => n).join(", ");
  await c.run(
    `COPY (SELECT ${cols} FROM raw WHERE message_id NOT IN (SELECT message_id FROM prior) QUALIFY ${PICK} ORDER BY ${ORDER}) TO ${sqlString(plan.out)} ` +
      `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, KV_METADATA {${COMMIT_METADATA_KEY}: ${sqlString(JSON.stringify(commit))}})`,
  );
  await c.run("DROP TABLE raw; DROP TABLE prior;");
  return { counts, conflicts: [], conflictCount: 0, commit, bytes: existsSync(plan.out) ? statSync(plan.out).size : 0 };
}
