import { PROBLEM_CODES, type Problem, type ProblemCode } from "./problems.js";

/** The verification report: one document for --json, the terminal table and the HTML report (schema: docs/verify-report.schema.json). */

export const REPORT_VERSION = 1;

export interface Figures {
  objects: number;
  /** Envelopes read (every copy). */
  messages: number;
  distinctIds: number;
  /** Copies beyond the first of an id with the same content: counted, not problems. */
  duplicates: number;
  /** Object bytes as stored (compressed). */
  bytes: number;
  problems: number;
}

export interface HourFigures extends Figures {
  /** Start of the hour partition, ISO (`2026-12-01T10:00:00Z`). */
  hour: string;
}

export interface VerifyReport {
  reportVersion: typeof REPORT_VERSION;
  tool: "sqs-archiver verify";
  version: string;
  generatedAt: string;
  bucket: string;
  prefix: string;
  since: string;
  until: string;
  /** No problems found and the whole window read. */
  ok: boolean;
  exitCode: number;
  /** Set when the run did not read the whole window (interrupted, listing failed). */
  stopped?: { reason: "interrupted" | "fatal"; detail: string };
  totals: Figures;
  hours: HourFigures[];
  problemCounts: Record<ProblemCode, number>;
  problems: Problem[];
  /** Problems counted but not listed (beyond the list's cap). */
  problemsOmitted: number;
  /** Keys under the window's hour prefixes that are not archive objects (skipped). */
  ignoredKeys: number;
  /** With --compacted-prefix: the generations read and the rows they hold (not counted in the raw figures). */
  compacted?: { prefix: string; generations: number; rows: number };
  s3Requests: { listObjectsV2: number; getObject: number };
  durationMs: number;
}

export function emptyFigures(): Figures {
  return { objects: 0, messages: 0, distinctIds: 0, duplicates: 0, bytes: 0, problems: 0 };
}

export function zeroCounts(): Record<ProblemCode, number> {
  return Object.fromEntries(PROBLEM_CODES.map((c) => [c, 0])) as Record<ProblemCode, number>;
}

export function sumFigures(hours: readonly Figures[]): Figures {
  const t = emptyFigures();
  for (const h of hours) {
    t.objects += h.objects;
    t.messages += h.messages;
    t.distinctIds += h.distinctIds;
    t.duplicates += h.duplicates;
    t.bytes += h.bytes;
    t.problems += h.problems;
  }
  return t;
}
