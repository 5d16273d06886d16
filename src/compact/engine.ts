import { once } from "node:events";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { COMPACTED_SCHEMA_VERSION, generationKey, manifestKey, toRow, type CommitRecord, type CommitSource } from "../archive/compacted.js";
import { downloadObject } from "../archive/compacted-read.js";
import { openDuck, type Duck } from "../archive/duckdb.js";
import { md5Hex, SCHEMA_VERSION } from "../archive/envelope.js";
import { hourStart } from "../archive/format.js";
import { sentTimestampOf } from "../archive/parse.js";
import { listWindow, readObject, type ListedObject, type ReadCounters } from "../archive/read.js";
import { classifyAwsError, describeError } from "../errors.js";
import type { Logger } from "../logger.js";
import { buildGeneration, spillLine, type GenerationCounts, type GenerationPlan } from "./sql.js";
import { putIfAbsent } from "./s3.js";
import { loadHourState, sourceId, type HourState } from "./state.js";

/**
 * The compaction engine: for each settled hour of the window, the sources not yet consumed by an earlier generation
 * are streamed through the archive-reading layer into a spill file, DuckDB deduplicates them against each other and
 * against the hour's earlier generations, and the new rows become the next generation, claimed with If-None-Match.
 * A compactor that loses that race (412) reads the hour's state again and starts the hour over.
 */

const HOUR = 3_600_000;
const MAX_ATTEMPTS = 5;
/** Estimated uncompressed JSON per time slice: one slice is what DuckDB sorts at a time (256 MB memory_limit). */
const SLICE_BYTES = 96 * 1024 * 1024;

/** Time slices for an hour, from the listed sizes (compressed NDJSON counted at ~6x): at least 1, at most 360. */
export function sliceCount(sources: ReadonlyArray<Pick<ListedObject, "size" | "parsed">>): number {
  let bytes = 0;
  for (const s of sources) bytes += s.parsed.layout === "ndjson" && s.parsed.compression !== "none" ? s.size * 6 : s.size;
  return Math.min(360, Math.max(1, Math.ceil(bytes / SLICE_BYTES)));
}

export interface CompactOptions {
  sinceMs: number;
  untilMs: number;
  nowMs: number;
  settleMs: number;
  bucket: string;
  prefix: string;
  toPrefix: string;
  dryRun: boolean;
  concurrency: number;
  spillDir: string;
  memoryLimit: string;
  threads?: number | undefined;
  toolVersion: string;
}

export type HourOutcome = "written" | "up_to_date" | "conflict" | "failed" | "unsettled" | "dry_run";

/** The figures an hour and a whole run both report. */
interface RowFigures {
  rowsIn: number;
  rowsOut: number;
  duplicatesDropped: number;
  alreadyCompacted: number;
  lateRows: number;
  bytesIn: number;
  bytesOut: number;
}

const noRows = (): RowFigures => ({ rowsIn: 0, rowsOut: 0, duplicatesDropped: 0, alreadyCompacted: 0, lateRows: 0, bytesIn: 0, bytesOut: 0 });

export interface HourResult extends RowFigures {
  hour: string;
  outcome: HourOutcome;
  generation?: number;
  key?: string;
  sources: number;
  newSources: number;
  sourcesWithProblems: number;
  conflictIds?: string[];
  races: number;
  manifestsRepaired: number;
  /** Where the hour's time went: reading sources into the spill files, DuckDB, the writes. */
  ms?: { read: number; engine: number; write: number };
}

export interface CompactStats extends RowFigures {
  hours: number;
  hoursWritten: number;
  hoursUpToDate: number;
  hoursUnsettled: number;
  hoursConflict: number;
  hoursFailed: number;
  sources: number;
  sourcesRead: number;
  generationsWritten: number;
  badContent: number;
  races: number;
}

export interface CompactResult {
  stats: CompactStats;
  hours: HourResult[];
  interrupted: boolean;
  durationMs: number;
}

/** A problem reading one source: the source is left out (not consumed) and the run exits 1. */
interface SourceProblem {
  key: string;
  line: number;
  reason: string;
  message: string;
}

export class Compactor {
  readonly stats: CompactStats = {
    hours: 0,
    hoursWritten: 0,
    hoursUpToDate: 0,
    hoursUnsettled: 0,
    hoursConflict: 0,
    hoursFailed: 0,
    sources: 0,
    sourcesRead: 0,
    ...noRows(),
    generationsWritten: 0,
    badContent: 0,
    races: 0,
  };
  hoursTotal = 0;
  hoursDone = 0;
  private readonly abort = new AbortController();
  private duck: Duck | undefined;
  /** Unique across the spill files of a run: the row DuckDB keeps of several copies is named by it. */
  private rowNumber = 0;

  constructor(
    private readonly o: CompactOptions,
    private readonly s3: S3Client,
    private readonly log: Logger,
  ) {}

  stop(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    try {
      this.duck?.con.interrupt();
    } catch {
      // no query running
    }
  }

  /** The whole hours of [since, until): settled ones (ended at least --settle ago) are compacted. */
  hours(): { settled: number[]; unsettled: number[] } {
    const settled: number[] = [];
    const unsettled: number[] = [];
    for (let h = hourStart(this.o.sinceMs); h < this.o.untilMs; h += HOUR) (h + HOUR <= this.o.nowMs - this.o.settleMs ? settled : unsettled).push(h);
    return { settled, unsettled };
  }

  async run(): Promise<CompactResult> {
    const t0 = performance.now();
    const { settled, unsettled } = this.hours();
    this.hoursTotal = settled.length;
    const results: HourResult[] = [];
    this.log.info(
      { event: "compact_start", since: new Date(this.o.sinceMs).toISOString(), until: new Date(this.o.untilMs).toISOString(), bucket: this.o.bucket, prefix: this.o.prefix, toPrefix: this.o.toPrefix, hours: settled.length, unsettledHours: unsettled.length, dryRun: this.o.dryRun },
      "compaction starting",
    );
    for (const h of unsettled) {
      this.log.info({ event: "compact_hour_unsettled", hour: new Date(h).toISOString(), settleMs: this.o.settleMs }, "hour ends less than --settle ago: left alone");
      this.stats.hoursUnsettled++;
    }
    mkdirSync(this.o.spillDir, { recursive: true });
    for (const h of settled) {
      if (this.abort.signal.aborted) break;
      const r = await this.hour(h);
      if (!r) break; // interrupted
      results.push(r);
      this.hoursDone++;
      this.account(r);
      this.logHour(r);
    }
    return { stats: this.stats, hours: results, interrupted: this.abort.signal.aborted, durationMs: Math.round(performance.now() - t0) };
  }

  private account(r: HourResult): void {
    const s = this.stats;
    s.hours++;
    if (r.outcome === "written" || r.outcome === "dry_run") s.hoursWritten++;
    if (r.outcome === "up_to_date") s.hoursUpToDate++;
    if (r.outcome === "conflict") s.hoursConflict++;
    if (r.outcome === "failed") s.hoursFailed++;
    if (r.outcome === "written") s.generationsWritten++;
    s.sources += r.sources;
    s.sourcesRead += r.newSources;
    s.rowsIn += r.rowsIn;
    s.rowsOut += r.rowsOut;
    s.duplicatesDropped += r.duplicatesDropped;
    s.alreadyCompacted += r.alreadyCompacted;
    s.lateRows += r.lateRows;
    s.bytesIn += r.bytesIn;
    s.bytesOut += r.bytesOut;
    s.badContent += r.sourcesWithProblems;
    s.races += r.races;
  }

  private logHour(r: HourResult): void {
    const { conflictIds, ...fields } = r;
    const level = r.outcome === "conflict" || r.outcome === "failed" ? "error" : "info";
    const msg: Record<HourOutcome, string> = {
      written: `generation ${r.generation} written`,
      dry_run: "dry run: would write this generation",
      up_to_date: "nothing new: nothing written",
      conflict: "integrity conflict: same messageId with different bodies or MD5s; hour not compacted",
      failed: "hour not compacted",
      unsettled: "left alone",
    };
    this.log[level]({ event: "compact_hour", ...fields, ...(conflictIds ? { conflictIds } : {}) }, msg[r.outcome]);
  }

  /** One hour, retried from its state when another compactor claimed the generation first; undefined if interrupted. */
  private async hour(hourMs: number): Promise<HourResult | undefined> {
    const work = mkdtempSync(join(this.o.spillDir, "compact-"));
    let races = 0;
    try {
      this.duck = await openDuck({ dir: work, memoryLimit: this.o.memoryLimit, ...(this.o.threads ? { threads: this.o.threads } : {}) });
      for (let attempt = 1; ; attempt++) {
        const r = await this.attempt(hourMs, work, this.duck);
        if (r === "race" && attempt < MAX_ATTEMPTS) {
          races++;
          continue;
        }
        if (r === "race") return { ...this.empty(hourMs, "failed"), races };
        if (r) r.races = races;
        return r;
      }
    } catch (err) {
      if (this.abort.signal.aborted) return undefined;
      const d = describeError(err);
      this.log.error({ event: "compact_hour_failed", hour: new Date(hourMs).toISOString(), reason: classifyAwsError(err), error: `${d.code}: ${d.message}` }, "hour not compacted");
      return { ...this.empty(hourMs, "failed"), races };
    } finally {
      this.duck?.close();
      this.duck = undefined;
      rmSync(work, { recursive: true, force: true });
    }
  }

  private empty(hourMs: number, outcome: HourOutcome): HourResult {
    return {
      hour: new Date(hourMs).toISOString(),
      outcome,
      sources: 0,
      newSources: 0,
      sourcesWithProblems: 0,
      ...noRows(),
      races: 0,
      manifestsRepaired: 0,
    };
  }

  private async attempt(hourMs: number, work: string, duck: Duck): Promise<HourResult | "race" | undefined> {
    const o = this.o;
    const signal = this.abort.signal;
    const counters: ReadCounters = { listRequests: 0, getRequests: 0, bytesRead: 0 };
    const attemptDir = mkdtempSync(join(work, "a-"));
    const state = await loadHourState(this.s3, o.bucket, o.toPrefix, hourMs, duck, attemptDir, { repair: !o.dryRun }, counters, signal);
    const { objects } = await listWindow(this.s3, o.bucket, o.prefix, hourMs, hourMs + HOUR, counters, signal, (key) =>
      this.log.warn({ event: "object_ignored", key }, "not an archive object (name and extension): skipped"),
    );
    const fresh = objects.filter((ob) => !state.consumed.has(sourceId(ob.key, ob.etag ?? "")));
    const result = this.empty(hourMs, "up_to_date");
    result.sources = objects.length;
    result.newSources = fresh.length;
    result.manifestsRepaired = state.manifestsRepaired;
    if (fresh.length === 0) return result;

    const tRead = performance.now();
    const { sources, slices, problems } = await this.spill(fresh, hourMs, attemptDir, counters);
    const tEngine = performance.now();
    if (signal.aborted) return undefined;
    result.bytesIn = counters.bytesRead;
    result.sourcesWithProblems = problems.length;
    for (const p of problems) this.log.error({ event: "bad_content", key: p.key, line: p.line, reason: p.reason, error: p.message }, "source left out of this generation (not consumed)");
    if (sources.length === 0) return { ...result, outcome: "failed" };

    const prior = await this.priorFiles(state, attemptDir, counters);
    const plan: GenerationPlan = { slices, prior, out: join(attemptDir, "out.parquet"), workDir: attemptDir };
    const generation = (state.generations.at(-1)?.generation ?? 0) + 1;
    const key = generationKey(o.toPrefix, hourMs, generation);
    const built = await buildGeneration(duck, plan, (counts) => this.commitRecord(hourMs, generation, key, state, sources, counts));
    if (signal.aborted) return undefined;
    const tWrite = performance.now();
    result.ms = { read: Math.round(tEngine - tRead), engine: Math.round(tWrite - tEngine), write: 0 };
    Object.assign(result, { generation, key, rowsIn: built.counts.rowsIn, rowsOut: built.counts.rowsOut, duplicatesDropped: built.counts.duplicatesDropped, alreadyCompacted: built.counts.alreadyCompacted });
    result.lateRows = state.generations.length > 0 ? built.counts.rowsOut : 0;
    if (built.conflicts.length) return { ...result, outcome: "conflict", conflictIds: built.conflicts, rowsOut: 0, lateRows: 0 };
    if (o.dryRun) return { ...result, outcome: "dry_run", bytesOut: built.bytes };
    const put = await putIfAbsent(this.s3, o.bucket, key, { file: plan.out }, "application/vnd.apache.parquet", signal);
    if (put === "exists") {
      this.log.warn({ event: "generation_race_lost", hour: result.hour, generation, key }, "another compactor wrote this generation first: reading the hour again");
      return "race";
    }
    // The Parquet file is the commit; the manifest repeats it (a re-run writes it if this process dies first).
    await putIfAbsent(this.s3, o.bucket, manifestKey(o.toPrefix, hourMs, generation), { data: Buffer.from(JSON.stringify(built.commit, null, 2)) }, "application/json", signal);
    result.ms.write = Math.round(performance.now() - tWrite);
    return { ...result, outcome: problems.length ? "failed" : "written", bytesOut: built.bytes };
  }

  private commitRecord(hourMs: number, generation: number, key: string, state: HourState, sources: CommitSource[], counts: GenerationCounts): CommitRecord {
    return {
      tool: "sqs-archiver",
      toolVersion: this.o.toolVersion,
      schemaVersion: COMPACTED_SCHEMA_VERSION,
      envelopeSchemaVersion: SCHEMA_VERSION,
      hour: new Date(hourMs).toISOString(),
      generation,
      key,
      previous: state.generations.map((g) => g.key),
      sourcePrefix: this.o.prefix,
      sources,
      ...counts,
      createdAt: new Date().toISOString(),
    };
  }

  /**
   * Reads each fresh source into spill files of its own, one per time slice of the hour it has rows in; a source with
   * any bad content is left out (its files deleted). Returns the files grouped by slice, in slice order.
   */
  private async spill(fresh: ListedObject[], hourMs: number, dir: string, counters: ReadCounters): Promise<{ sources: CommitSource[]; slices: string[][]; problems: SourceProblem[] }> {
    const slices = sliceCount(fresh);
    const done: Array<{ source: CommitSource; files: Array<[number, string]> }> = [];
    const problems: SourceProblem[] = [];
    let i = 0;
    const worker = async () => {
      while (i < fresh.length && !this.abort.signal.aborted) {
        const n = i++;
        const r = await this.readSource(fresh[n] as ListedObject, hourMs, slices, join(dir, `src-${n}`), counters);
        if ("problem" in r) problems.push(r.problem);
        else done.push(r);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.o.concurrency, fresh.length)) }, worker));
    done.sort((a, b) => (a.source.key < b.source.key ? -1 : 1));
    const bySlice: string[][] = Array.from({ length: slices }, () => []);
    for (const d of done) for (const [k, f] of d.files) bySlice[k]?.push(f);
    return { sources: done.map((d) => d.source), slices: bySlice, problems };
  }

  private async readSource(
    ob: ListedObject,
    hourMs: number,
    slices: number,
    base: string,
    counters: ReadCounters,
  ): Promise<{ source: CommitSource; files: Array<[number, string]> } | { problem: SourceProblem }> {
    const out = new SliceFiles(base);
    let rows = 0;
    let problem: SourceProblem | undefined;
    try {
      const info = await readObject(
        this.s3,
        this.o.bucket,
        ob,
        counters,
        {
          envelope: (env, line) => {
            const ts = sentTimestampOf(env) as number;
            if (hourStart(ts) !== hourMs) {
              problem ??= { key: ob.key, line, reason: "MISFILED", message: `message ${env.messageId}: SentTimestamp ${new Date(ts).toISOString()} is outside this hour folder` };
              return;
            }
            rows++;
            const md5 = env.md5OfBody;
            const line2 = spillLine(JSON.stringify(toRow(env, ob.key)), this.rowNumber++, typeof md5 === "string" && md5 !== "" ? md5.toLowerCase() : md5Hex(env.body));
            return out.append(Math.floor(((ts - hourMs) * slices) / HOUR), line2);
          },
          bad: (line, err) => void (problem ??= { key: ob.key, line, reason: err.reason, message: err.message }),
          stopped: () => problem !== undefined || this.abort.signal.aborted,
        },
        this.abort.signal,
      );
      if (!problem) await out.flushAll();
      await out.close();
      if (problem) throw problem;
      return { source: { key: ob.key, etag: info.etag ?? ob.etag ?? "", size: ob.size, rows }, files: out.files() };
    } catch (err) {
      await out.close().catch(() => undefined);
      out.remove();
      if (err === problem && problem) return { problem };
      if (this.abort.signal.aborted) throw err;
      const d = describeError(err);
      return { problem: { key: ob.key, line: 0, reason: classifyAwsError(err), message: `${d.code}: ${d.message}` } };
    }
  }

  private async priorFiles(state: HourState, dir: string, counters: ReadCounters): Promise<string[]> {
    const files: string[] = [];
    for (const g of state.generations) {
      const file = join(dir, `prior-g${g.generation}.parquet`);
      await downloadObject(this.s3, this.o.bucket, g.key, file, counters, this.abort.signal);
      files.push(file);
    }
    return files;
  }
}

/** One source's spill files, one per time slice it has rows in. */
class SliceFiles {
  private readonly out = new Map<number, { ws: WriteStream; file: string; pending: string }>();

  constructor(private readonly base: string) {}

  /** Rows are joined into ~256 KiB strings (per source and slice): one write per chunk instead of one per row. */
  append(slice: number, line: string): Promise<void> | undefined {
    let s = this.out.get(slice);
    if (!s) {
      const file = `${this.base}-s${slice}.ndjson`;
      s = { ws: createWriteStream(file), file, pending: "" };
      this.out.set(slice, s);
    }
    s.pending += line;
    return s.pending.length >= 1 << 18 ? SliceFiles.flush(s) : undefined;
  }

  async flushAll(): Promise<void> {
    for (const s of this.out.values()) if (s.pending) await SliceFiles.flush(s);
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.out.values()].map(async (s) => {
        s.ws.end();
        await once(s.ws, "close");
      }),
    );
  }

  files(): Array<[number, string]> {
    return [...this.out.entries()].map(([k, s]) => [k, s.file]);
  }

  remove(): void {
    for (const s of this.out.values()) rmSync(s.file, { force: true });
  }

  private static async flush(s: { ws: WriteStream; pending: string }): Promise<void> {
    const chunk = s.pending;
    s.pending = "";
    if (!s.ws.write(chunk)) await once(s.ws, "drain");
  }
}
