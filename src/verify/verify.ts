import type { S3Client } from "@aws-sdk/client-s3";
import type { Envelope } from "../archive/envelope.js";
import { hourPrefixes } from "../archive/format.js";
import type { BadContentError } from "../archive/parse.js";
import { listWindow, readObject, type ListedObject, type ReadCounters } from "../archive/read.js";
import { ArchiverError, classifyAwsError, describeError, isSinkFatalReason } from "../errors.js";
import type { Logger } from "../logger.js";
import type { CommitRecord } from "../archive/compacted.js";
import { batchHashMismatch, countMismatch, keyIdMismatch, wrongHour } from "./checks.js";
import { commitCountMismatch, compareCompactedHour, rawSourcesExist } from "./compacted.js";
import { contentDigest, HourLedger } from "./ledger.js";
import { codeOfBadContent, type Problem, type ProblemCode } from "./problems.js";
import { emptyFigures, REPORT_VERSION, sumFigures, zeroCounts, type HourFigures, type VerifyReport } from "./report.js";

/**
 * The verification engine: list the window's hours, read every object (both layouts, every codec) through the
 * archive-reading layer, run the pure checks on each line and object, and build the report. No `process` here: the
 * CLI owns signals, output and the exit code.
 */

export interface VerifyOptions {
  sinceMs: number;
  untilMs: number;
  bucket: string;
  prefix: string;
  /** Objects read at once. */
  concurrency: number;
  /** Problems listed in the report; beyond it they are counted only (a wholly corrupt archive stays a bounded report). */
  maxProblems: number;
  version: string;
  /** `sqs-archiver compact`'s prefix: each compacted hour is checked against the raw hour (docs/verify.md). */
  compactedPrefix?: string | undefined;
}

export const DEFAULT_MAX_PROBLEMS = 10_000;

interface HourState {
  figures: HourFigures;
  /** Dropped once every object of the hour is read. */
  ledger: HourLedger | undefined;
  remaining: number;
  /** Generations of this hour under the compacted prefix, checked once the raw hour is read. */
  compacted?: ListedObject[];
}

/** Fatal for the run rather than a problem of one object: every other read would fail the same way. */
/** A bucket-wide read failure (denied, missing bucket, wrong region): the run stops instead of flagging every object. */
class FatalReadError extends ArchiverError {}

export class Verifier {
  objectsTotal = 0;
  objectsDone = 0;
  messages = 0;
  problemsFound = 0;
  private readonly counters: ReadCounters = { listRequests: 0, getRequests: 0, bytesRead: 0 };
  private readonly abort = new AbortController();
  private readonly hours = new Map<string, HourState>();
  private readonly problems: Problem[] = [];
  private readonly counts = zeroCounts();
  private objects: ListedObject[] = [];
  private readonly compactedFigures = { generations: 0, rows: 0 };
  private stopReason: VerifyReport["stopped"];

  constructor(
    private readonly o: VerifyOptions,
    private readonly s3: S3Client,
    private readonly log: Logger,
  ) {
    for (const p of hourPrefixes("", o.sinceMs, o.untilMs)) {
      const hour = `${p.slice(0, 4)}-${p.slice(5, 7)}-${p.slice(8, 10)}T${p.slice(11, 13)}:00:00Z`;
      this.hours.set(hour, { figures: { hour, ...emptyFigures() }, ledger: new HourLedger(), remaining: 0 });
    }
  }

  stop(reason: "interrupted" | "fatal", detail: string): void {
    this.stopReason ??= { reason, detail };
    this.abort.abort();
  }

  async run(): Promise<VerifyReport> {
    const t0 = performance.now();
    const o = this.o;
    try {
      this.log.info({ event: "verify_start", since: new Date(o.sinceMs).toISOString(), until: new Date(o.untilMs).toISOString(), bucket: o.bucket, prefix: o.prefix }, "verify starting");
      const listed = await listWindow(this.s3, o.bucket, o.prefix, o.sinceMs, o.untilMs, this.counters, this.abort.signal, (key) =>
        this.log.warn({ event: "object_ignored", key }, "not an archive object (name and extension): skipped"),
      );
      this.objects = listed.objects;
      this.ignored = listed.ignored;
      for (const ob of this.objects) this.hourOf(ob).remaining++;
      if (o.compactedPrefix !== undefined) {
        const c = await listWindow(this.s3, o.bucket, o.compactedPrefix, o.sinceMs, o.untilMs, this.counters, this.abort.signal);
        for (const g of c.objects.filter((x) => x.parsed.layout === "parquet")) (this.hourOf(g).compacted ??= []).push(g);
      }
      this.objectsTotal = this.objects.length;
      this.log.info({ event: "verify_listed", objects: this.objectsTotal, ignoredKeys: listed.ignored }, "listed");
      // Objects in listing order (oldest hour first) so each hour's ledger is dropped as soon as its objects are read.
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < this.objects.length && !this.abort.signal.aborted; i = next++) await this.readOne(this.objects[i] as ListedObject, i);
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, this.objects.length)) }, worker));
      // Compacted hours whose raw objects are gone (expired): nothing to compare ids with, the rest is still checked.
      for (const hs of this.hours.values()) if (hs.compacted && hs.remaining === 0 && hs.figures.objects === 0) await this.checkCompacted(hs, new HourLedger());
    } catch (err) {
      if (!this.abort.signal.aborted || !this.stopReason) {
        const d = describeError(err);
        this.log.error({ event: "verify_fatal", reason: classifyAwsError(err), error: `${d.code}: ${d.message}` }, "verify failed");
        this.stop("fatal", `${d.code}: ${d.message}`);
      }
    }
    return this.report(Math.round(performance.now() - t0));
  }

  private ignored = 0;

  private hourOf(ob: ListedObject): HourState {
    let h = this.hours.get(ob.parsed.hour);
    if (!h) {
      // A key of an hour the listing covers always matches; kept for a key named by hand with an odd hour folder.
      h = { figures: { hour: ob.parsed.hour, ...emptyFigures() }, ledger: new HourLedger(), remaining: 0 };
      this.hours.set(ob.parsed.hour, h);
    }
    return h;
  }

  private problem(p: Problem): void {
    this.problemsFound++;
    this.counts[p.code]++;
    const h = this.hours.get(p.hour);
    if (h) h.figures.problems++;
    if (this.problems.length < this.o.maxProblems) this.problems.push(p);
    this.log.debug({ event: "verify_problem", ...p }, "problem found");
  }

  private async readOne(ob: ListedObject, index: number): Promise<void> {
    const hs = this.hourOf(ob);
    const ledger = hs.ledger ?? new HourLedger();
    hs.figures.objects++;
    hs.figures.bytes += ob.size;
    const at = this.reporterFor(ob);
    const ids: string[] | undefined = ob.parsed.layout === "ndjson" ? [] : undefined;
    let idsComplete = true;
    let held = 0;
    let corrupt = false;
    let mismatch = false;
    const keyHourMs = Date.parse(ob.parsed.hour);
    const onEnvelope = (env: Envelope, line: number) => {
      held++;
      this.messages++;
      hs.figures.messages++;
      ids?.push(env.messageId);
      const id = { messageId: env.messageId, line };
      const wh = wrongHour(env, ob.parsed, keyHourMs);
      if (wh) at("WRONG_HOUR", wh, id);
      const km = keyIdMismatch(env, ob.parsed);
      if (km) at("KEY_ID_MISMATCH", km, id);
      const seen = ledger.add(env.messageId, contentDigest(env, mismatch), index);
      mismatch = false;
      if (seen.kind === "duplicate") hs.figures.duplicates++;
      else if (seen.kind === "conflict") {
        at("CONFLICT", `message ${env.messageId} is also in ${this.objects[seen.firstObject]?.key ?? "another object"} with a different body or md5OfBody`, id);
      }
    };
    const onBad = (line: number, err: BadContentError) => {
      const code = codeOfBadContent(err);
      if (code === "CORRUPT_OBJECT") corrupt = true;
      else {
        held++;
        if (err.messageId) ids?.push(err.messageId);
        else idsComplete = false;
      }
      at(code, err.message, { messageId: err.messageId, line });
    };
    const md5Mismatch = (line: number, err: BadContentError) => {
      mismatch = true;
      at("MD5_MISMATCH", err.message, { messageId: err.messageId, line });
    };
    try {
      const callbacks = { envelope: onEnvelope, bad: onBad, md5Mismatch, stopped: () => this.abort.signal.aborted };
      const info = await readObject(this.s3, this.o.bucket, ob, this.counters, callbacks, this.abort.signal);
      // A broken stream explains a short count and a hash over fewer ids: reported once, as the object's problem.
      if (!corrupt && !this.abort.signal.aborted) {
        const cm = countMismatch(info.metadata, held);
        if (cm) at("COUNT_MISMATCH", cm);
        const bh = batchHashMismatch(ob.parsed, idsComplete ? ids : undefined);
        if (bh) at("BATCH_HASH_MISMATCH", bh);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.readFailed(err, (detail) => at("CORRUPT_OBJECT", detail));
    }
    await this.objectDone(hs, ledger);
  }

  /** Reports a problem of this object (with the message id and line where there is one). */
  private reporterFor(ob: ListedObject) {
    return (code: ProblemCode, detail: string, extra: { messageId?: string | undefined; line?: number } = {}) =>
      this.problem({ code, key: ob.key, hour: ob.parsed.hour, ...(extra.messageId ? { messageId: extra.messageId } : {}), ...(extra.line ? { line: extra.line } : {}), detail });
  }

  /** A bucket-wide failure stops the run; anything else is this object's problem. */
  private readFailed(err: unknown, corrupt: (detail: string) => void): void {
    const reason = classifyAwsError(err);
    const d = describeError(err);
    if (isSinkFatalReason(reason)) {
      this.stop("fatal", `${d.code}: ${d.message}`);
      throw new FatalReadError(reason, d.message);
    }
    corrupt(`cannot be read: ${d.code}: ${d.message}`);
  }

  /** The hour's last object read: its figures are final, its compacted generations compared, its ledger dropped. */
  private async objectDone(hs: HourState, ledger: HourLedger): Promise<void> {
    this.objectsDone++;
    if (--hs.remaining === 0) {
      hs.figures.distinctIds = ledger.distinct;
      if (hs.compacted && !this.abort.signal.aborted) await this.checkCompacted(hs, ledger);
      hs.ledger = undefined;
    } else hs.ledger = ledger;
  }

  /** Reads the hour's generations and compares them with the raw hour's ids. */
  private async checkCompacted(hs: HourState, raw: HourLedger): Promise<void> {
    const gens = hs.compacted ?? [];
    hs.compacted = undefined;
    const hour = hs.figures.hour;
    const ids = new Map<string, string>();
    const commits: CommitRecord[] = [];
    for (const g of gens) {
      const at = (code: ProblemCode, detail: string, messageId?: string, line?: number) =>
        this.problem({ code, key: g.key, hour, ...(messageId ? { messageId } : {}), ...(line ? { line } : {}), detail });
      let rows = 0;
      let unreadable = false;
      try {
        const info = await readObject(
          this.s3,
          this.o.bucket,
          g,
          this.counters,
          {
            envelope: (env, line) => {
              rows++;
              const first = ids.get(env.messageId);
              if (first !== undefined) at("DUPLICATE_IN_COMPACTED", `message ${env.messageId} is already in ${first}`, env.messageId, line);
              else ids.set(env.messageId, g.key);
            },
            bad: (line, err) => {
              unreadable = true;
              at(codeOfBadContent(err) === "CORRUPT_OBJECT" ? "CORRUPT_OBJECT" : "MALFORMED_LINE", err.message, err.messageId, line);
            },
            stopped: () => this.abort.signal.aborted,
          },
          this.abort.signal,
        );
        if (info.commit) commits.push(info.commit);
        const cm = unreadable ? undefined : commitCountMismatch(info.commit, rows);
        if (cm) at("COUNT_MISMATCH", cm);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const d = describeError(err);
        at("CORRUPT_OBJECT", `cannot be read: ${d.code}: ${d.message}`);
        unreadable = true;
      }
      if (unreadable) commits.length = 0;
      this.compactedFigures.generations++;
      this.compactedFigures.rows += rows;
    }
    const rawKeys = new Set(this.objects.filter((ob) => ob.parsed.hour === hour).map((ob) => ob.key));
    // An unreadable generation could hold any id: the id comparison would only repeat its problem.
    if (commits.length !== gens.length) return;
    const { missing, extra } = compareCompactedHour(raw, ids, rawSourcesExist(commits, rawKeys));
    for (const m of missing) {
      this.problem({ code: "MISSING_FROM_COMPACTED", key: this.objects[m.firstObject]?.key ?? "", hour, messageId: m.id, detail: `message ${m.id} is in the raw hour but in none of its ${gens.length} compacted generations` });
    }
    for (const x of extra) {
      this.problem({ code: "EXTRA_IN_COMPACTED", key: x.key, hour, messageId: x.id, detail: `message ${x.id} is compacted but in none of the hour's raw objects, which all still exist` });
    }
  }

  private report(durationMs: number): VerifyReport {
    const hours = [...this.hours.values()].map((h) => {
      if (h.ledger && h.figures.objects > 0) h.figures.distinctIds = h.ledger.distinct;
      return h.figures;
    });
    hours.sort((a, b) => a.hour.localeCompare(b.hour));
    const ok = this.problemsFound === 0 && !this.stopReason;
    const exitCode = this.stopReason?.reason === "interrupted" ? 130 : ok ? 0 : 1;
    return {
      reportVersion: REPORT_VERSION,
      tool: "sqs-archiver verify",
      version: this.o.version,
      generatedAt: new Date().toISOString(),
      bucket: this.o.bucket,
      prefix: this.o.prefix,
      since: new Date(this.o.sinceMs).toISOString(),
      until: new Date(this.o.untilMs).toISOString(),
      ok,
      exitCode,
      ...(this.stopReason ? { stopped: this.stopReason } : {}),
      totals: sumFigures(hours),
      hours,
      problemCounts: { ...this.counts },
      problems: this.problems,
      problemsOmitted: this.problemsFound - this.problems.length,
      ignoredKeys: this.ignored,
      ...(this.o.compactedPrefix !== undefined ? { compacted: { prefix: this.o.compactedPrefix, ...this.compactedFigures } } : {}),
      s3Requests: { listObjectsV2: this.counters.listRequests, getObject: this.counters.getRequests },
      durationMs,
    };
  }
}
