import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";

/**
 * One DuckDB session for the compacted layout (compacting and reading back): an on-disk database in a spill
 * directory with `memory_limit` and `temp_directory` set, so an hour larger than memory sorts and deduplicates on
 * disk instead of growing the process.
 */

export interface DuckSettings {
  /** Directory for the database file and DuckDB's spill files; created if missing. */
  dir: string;
  /** DuckDB memory_limit, e.g. "256MB". */
  memoryLimit: string;
  threads?: number;
}

export interface Duck {
  con: DuckDBConnection;
  close(): void;
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export async function openDuck(s: DuckSettings): Promise<Duck> {
  mkdirSync(join(s.dir, "tmp"), { recursive: true });
  // Loaded on first use: the native engine is needed only by compaction and readers of the compacted layout.
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(join(s.dir, "compact.duckdb"), {
    memory_limit: s.memoryLimit,
    temp_directory: join(s.dir, "tmp"),
    // Rows are sorted explicitly where order matters; not preserving insertion order lets large COPYs stream.
    preserve_insertion_order: "false",
    ...(s.threads ? { threads: String(s.threads) } : {}),
  });
  const con = await instance.connect();
  return {
    con,
    close() {
      con.closeSync();
      instance.closeSync();
    },
  };
}
