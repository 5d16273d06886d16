import type { CommitRecord } from "../archive/compacted.js";
import type { HourLedger } from "./ledger.js";

/**
 * A compacted hour against its raw hour (pure): every raw id must be in some generation of the hour, and every
 * compacted id must have a raw source, as long as the sources the generations name still exist (after a lifecycle
 * rule expired the raw objects, the compacted hour is the archive and nothing is "extra").
 */

/** All sources named by the hour's commit records are still listed under the raw prefix. */
export function rawSourcesExist(commits: readonly CommitRecord[], rawKeys: ReadonlySet<string>): boolean {
  return commits.length > 0 && commits.every((c) => c.sources.every((s) => rawKeys.has(s.key)));
}

export function compareCompactedHour(
  raw: HourLedger,
  compacted: ReadonlyMap<string, string>,
  sourcesExist: boolean,
): { missing: Array<{ id: string; firstObject: number }>; extra: Array<{ id: string; key: string }> } {
  const missing: Array<{ id: string; firstObject: number }> = [];
  for (const [id, firstObject] of raw.ids()) if (!compacted.has(id)) missing.push({ id, firstObject });
  const extra: Array<{ id: string; key: string }> = [];
  if (sourcesExist) for (const [id, key] of compacted) if (!raw.has(id)) extra.push({ id, key });
  return { missing, extra };
}

/** The commit record's row count against the rows the generation holds. */
export function commitCountMismatch(commit: CommitRecord | undefined, rows: number): string | undefined {
  if (!commit || commit.rowsOut === rows) return undefined;
  return `commit record rowsOut ${commit.rowsOut}, the generation holds ${rows} rows`;
}
