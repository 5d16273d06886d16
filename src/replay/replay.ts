import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Envelope } from "../archive/envelope.js";
import { hourPath } from "../archive/format.js";
import { ArchiverError, classifyAwsError, describeError, isRetryableReason } from "../errors.js";
import type { Logger } from "../logger.js";
import { CheckpointWriter, type CheckpointState } from "./checkpoint.js";
import { matchesFilters, type Filter } from "./filter.js";
import type { BadContentError } from "../archive/parse.js";
import { sentTimestampOf } from "../archive/parse.js";
import { BatchCounter, compareSequenceNumbers, isFifoQueueUrl, queueIdentity, toReplayEntry } from "./message.js";
import { RateLimiter } from "./rate-limiter.js";
import { listWindow, readObject, type ListedObject, type ReadCounters } from "../archive/read.js";
import { Sender, type Outgoing } from "./sender.js";
import { checkTarget } from "./target-check.js";

/**
 * The replay engine: list the window's hour prefixes, read both layouts, keep messages whose SentTimestamp is in
 * [since, until) and which pass the filters, deduplicate by messageId, and send them (or, in a dry run, count what
 * would be sent). No `process` here: the CLI owns signals, output and the exit code.
 */

export interface ReplayOptions {
  sinceMs: number;
  untilMs: number;
  to: string;
  bucket: string;
  prefix: string;
  filters: Filter[];
  rate: number;
  concurrency: number;
  dryRun: boolean;
  yes: boolean;
  provenance: boolean;
  checkpointFile?: string | undefined;
  checkpoint?: CheckpointState | undefined;
  filterTexts: string[];
}

export interface ReplayStats {
  listed: number;
  read: number;
  matched: number;
  sent: number;
  skippedDuplicates: number;
  failed: number;
  badContent: number;
  alreadySent: number;
  outsideWindow: number;
  filteredOut: number;
  objectsDone: number;
  objectsSkipped: number;
  ignoredKeys: number;
  s3ListRequests: number;
  s3GetRequests: number;
  sqsRequests: number;
  bytesRead: number;
  bytesToSend: number;
}

export interface DryRunReport {
  hours: Array<{ hour: string; messages: number; bytes: number }>;
  messages: number;
  bytes: number;
  s3Requests: { listObjectsV2: number; getObject: number; total: number };
  sqsRequests: { sendMessageBatch: number };
  sampleMessageIds: string[];
  sourceQueues: string[];
}

export interface ReplayResult {
  stats: ReplayStats;
  /** Why the replay stopped early: interrupted (Ctrl-C), refused (same queue without --yes), or a fatal reason. */
  stopped?: { reason: "interrupted" | "refused" | "fatal" | "target"; detail: string };
  dryRun?: DryRunReport;
  durationMs: number;
}

interface Track {
  key: string;
  outstanding: number;
  readDone: boolean;
  problem: boolean;
}

interface Item extends Outgoing {
  track: Track;
  sentMs: number;
}

/** The archive came from the queue --to names, without --yes: the replay stops before sending any of it. */
export class SameQueueError extends ArchiverError {
  constructor(detail: string) {
    super("SAME_QUEUE", detail);
  }
}

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>, stopped: () => boolean): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length && !stopped()) {
      const it = items[i++] as T;
      await fn(it);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

export class Replay {
  readonly stats: ReplayStats = {
    listed: 0,
    read: 0,
    matched: 0,
    sent: 0,
    skippedDuplicates: 0,
    failed: 0,
    badContent: 0,
    alreadySent: 0,
    outsideWindow: 0,
    filteredOut: 0,
    objectsDone: 0,
    objectsSkipped: 0,
    ignoredKeys: 0,
    s3ListRequests: 0,
    s3GetRequests: 0,
    sqsRequests: 0,
    bytesRead: 0,
    bytesToSend: 0,
  };
  /** Objects still to read (known after listing), for progress and ETA. */
  objectsTotal = 0;
  private readonly counters: ReadCounters = { listRequests: 0, getRequests: 0, bytesRead: 0 };
  private readonly seen = new Set<string>();
  private readonly abort = new AbortController();
  private stopReason: ReplayResult["stopped"];
  private targetChecks = 0;
  private sender: Sender<Item> | undefined;
  private journal: CheckpointWriter | undefined;
  private readonly fifo: boolean;
  private readonly target: string;
  private readonly dry = {
    hours: new Map<string, { messages: number; bytes: number }>(),
    batches: undefined as BatchCounter | undefined,
    samples: [] as string[],
    queues: new Set<string>(),
  };

  constructor(
    private readonly o: ReplayOptions,
    private readonly s3: S3Client,
    private readonly sqs: SQSClient,
    private readonly log: Logger,
  ) {
    this.fifo = isFifoQueueUrl(o.to);
    this.target = queueIdentity(o.to);
  }

  /** Ctrl-C: stop reading, send nothing new, let in-flight requests finish. */
  stop(reason: NonNullable<ReplayResult["stopped"]>["reason"] = "interrupted", detail = "stopped by signal"): void {
    if (!this.stopReason) this.stopReason = { reason, detail };
    this.sender?.stop();
  }

  private get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  async run(): Promise<ReplayResult> {
    const t0 = performance.now();
    const o = this.o;
    if (o.checkpointFile && !o.dryRun) {
      this.journal = new CheckpointWriter(
        o.checkpointFile,
        { version: 1, sinceMs: o.sinceMs, untilMs: o.untilMs, to: o.to, bucket: o.bucket, prefix: o.prefix, filters: o.filterTexts },
        o.checkpoint,
      );
    }
    const sender = this.createSender();
    try {
      this.log.info(
        { event: "replay_start", since: new Date(o.sinceMs).toISOString(), until: new Date(o.untilMs).toISOString(), to: o.to, bucket: o.bucket, prefix: o.prefix, filters: o.filterTexts, rate: o.rate, concurrency: o.concurrency, fifo: this.fifo, dryRun: o.dryRun, resumed: Boolean(o.checkpoint) },
        "replay starting",
      );
      if (!(await this.targetUsable())) return this.result(t0);
      const todo = await this.listTodo();
      if (this.fifo) await this.replayFifo(todo, sender);
      else await pool(todo, this.readers, (ob) => this.readOne(ob, (it) => (o.dryRun ? void this.dryAdd(it) : sender.add(it))), () => this.stopping);
      sender.flush();
      await sender.idle();
    } catch (err) {
      if (!(err instanceof SameQueueError)) {
        const d = describeError(err);
        this.log.error({ event: "replay_fatal", reason: classifyAwsError(err), error: `${d.code}: ${d.message}` }, "replay failed");
        this.stop("fatal", `${d.code}: ${d.message}`);
      }
      sender.stop();
      await sender.idle();
    } finally {
      this.journal?.close();
      this.stats.s3ListRequests = this.counters.listRequests;
      this.stats.s3GetRequests = this.counters.getRequests;
      this.stats.bytesRead = this.counters.bytesRead;
      this.stats.sqsRequests = sender.requests + this.targetChecks;
    }
    return this.result(t0);
  }

  private get readers(): number {
    return Math.max(2, this.o.concurrency);
  }

  private createSender(): Sender<Item> {
    this.sender = new Sender<Item>(this.sqs, this.o.to, this.fifo, this.o.concurrency, new RateLimiter(this.o.rate), {
      sent: (items) => this.onSent(items),
      failed: (item, reason, detail) => this.onFailed(item, reason, detail),
      fatal: (reason, detail) => {
        this.log.error({ event: "replay_fatal", reason, error: detail, queueUrl: this.o.to }, "every further send would fail: stopping");
        this.stop("fatal", `${reason}: ${detail}`);
      },
    });
    return this.sender;
  }

  /** The window's objects, less those a checkpoint records as done. */
  private async listTodo(): Promise<ListedObject[]> {
    const o = this.o;
    const { objects, ignored } = await listWindow(this.s3, o.bucket, o.prefix, o.sinceMs, o.untilMs, this.counters, this.abort.signal, (key) =>
      this.log.warn({ event: "object_ignored", key }, "not an archive object (name and extension): skipped"),
    );
    this.stats.listed = objects.length;
    this.stats.ignoredKeys = ignored;
    const done = o.checkpoint?.done ?? new Set<string>();
    const todo = objects.filter((ob) => !done.has(ob.key));
    this.stats.objectsSkipped = objects.length - todo.length;
    this.objectsTotal = todo.length;
    this.log.info({ event: "replay_listed", listed: objects.length, toRead: todo.length, skippedFromCheckpoint: this.stats.objectsSkipped, ignoredKeys: ignored, listRequests: this.counters.listRequests }, "listed");
    return todo;
  }

  /**
   * One hour at a time: a group's messages are all in its hours, so sorting an hour by SequenceNumber and sending
   * the hours in order keeps each group's order.
   */
  private async replayFifo(todo: ListedObject[], sender: Sender<Item>): Promise<void> {
    const hours = new Map<string, ListedObject[]>();
    for (const ob of todo) hours.set(ob.parsed.hour, [...(hours.get(ob.parsed.hour) ?? []), ob]);
    for (const objs of hours.values()) {
      if (this.stopping) break;
      const items: Item[] = [];
      await pool(objs, this.readers, (ob) => this.readOne(ob, async (it) => void items.push(it)), () => this.stopping);
      items.sort((a, b) => compareSequenceNumbers(a.re.sequenceNumber, b.re.sequenceNumber) || a.sentMs - b.sentMs);
      if (this.o.dryRun) for (const it of items) this.dryAdd(it);
      else {
        sender.addOrdered(items);
        sender.flush();
        await sender.idle();
      }
    }
  }

  private result(t0: number): ReplayResult {
    const result: ReplayResult = { stats: this.stats, durationMs: Math.round(performance.now() - t0) };
    if (this.stopReason) result.stopped = this.stopReason;
    if (this.o.dryRun) result.dryRun = this.dryReport();
    return result;
  }

  /** A queue that does not exist or may not be written stops the replay before any read, with one reason. */
  private async targetUsable(): Promise<boolean> {
    const check = await checkTarget(this.sqs, this.o.to, this.abort.signal);
    this.targetChecks++;
    if (check.ok || this.stopping) return !this.stopping;
    if (isRetryableReason(check.reason)) {
      // Throttled or unreachable for now: the sends retry and report for themselves.
      this.log.warn({ event: "replay_target_unchecked", to: this.o.to, reason: check.reason, error: check.detail }, "could not check the target queue; sending anyway");
      return true;
    }
    this.stop("target", `${check.reason}: cannot send to ${this.o.to} (${check.detail})`);
    return false;
  }

  private async readOne(ob: ListedObject, deliver: (it: Item) => Promise<void> | void): Promise<void> {
    const track: Track = { key: ob.key, outstanding: 0, readDone: false, problem: false };
    try {
      await readObject(
        this.s3,
        this.o.bucket,
        ob,
        this.counters,
        {
          envelope: (env, line) => {
            const it = this.accept(env, ob, line, track);
            if (!it) return;
            track.outstanding++;
            return deliver(it);
          },
          bad: (line, err) => this.onBad(ob.key, line, err, track),
          stopped: () => this.stopping,
        },
        this.abort.signal,
      );
    } catch (err) {
      if (err instanceof SameQueueError) throw err;
      if (this.abort.signal.aborted) return;
      const d = describeError(err);
      track.problem = true;
      this.stats.badContent++;
      this.log.error({ event: "object_read_failed", key: ob.key, reason: classifyAwsError(err), error: `${d.code}: ${d.message}` }, "could not read archive object");
    }
    track.readDone = !this.stopping;
    this.settle(track);
  }

  /** Window, filters, same-queue check, dedupe, checkpoint: the Item to send, or undefined to skip. */
  private accept(env: Envelope, ob: ListedObject, line: number, track: Track): Item | undefined {
    const o = this.o;
    this.stats.read++;
    const ts = sentTimestampOf(env) as number;
    if (ts < o.sinceMs || ts >= o.untilMs) {
      this.stats.outsideWindow++;
      return undefined;
    }
    if (!matchesFilters(env, o.filters)) {
      this.stats.filteredOut++;
      return undefined;
    }
    this.stats.matched++;
    if (typeof env.queueUrl === "string" && queueIdentity(env.queueUrl) === this.target) {
      if (o.dryRun) this.dry.queues.add(env.queueUrl);
      else if (!o.yes) {
        const detail = `the archive's messages came from ${env.queueUrl}, the queue --to names: the archiver would archive them again under new message ids (a second copy of each). Pass --yes to replay into it anyway.`;
        this.log.error({ event: "replay_refused", to: o.to, sourceQueue: env.queueUrl, key: ob.key }, detail);
        this.stop("refused", detail);
        this.abort.abort();
        throw new SameQueueError(detail);
      }
    }
    if (o.dryRun && typeof env.queueUrl === "string") this.dry.queues.add(env.queueUrl);
    if (this.seen.has(env.messageId)) {
      this.stats.skippedDuplicates++;
      return undefined;
    }
    this.seen.add(env.messageId);
    if (o.checkpoint?.sent.has(env.messageId)) {
      this.stats.alreadySent++;
      return undefined;
    }
    const re = toReplayEntry(env, { fifo: this.fifo, provenance: o.provenance });
    this.stats.bytesToSend += re.size;
    return { messageId: env.messageId, key: ob.key, line, re, track, sentMs: ts };
  }

  private onBad(key: string, line: number, err: BadContentError, track: Track): void {
    track.problem = true;
    this.stats.badContent++;
    this.log.error({ event: "bad_content", key, line, reason: err.reason, error: err.message }, "skipped bad archive content");
  }

  private onSent(items: Item[]): void {
    this.journal?.sent(items);
    this.stats.sent += items.length;
    for (const it of items) {
      it.track.outstanding--;
      this.settle(it.track);
    }
  }

  private onFailed(it: Item, reason: string, detail: string): void {
    this.stats.failed++;
    it.track.problem = true;
    it.track.outstanding--;
    this.log.error({ event: "send_failed", messageId: it.messageId, key: it.key, line: it.line, reason, error: detail.slice(0, 300) }, "message not replayed");
    this.settle(it.track);
  }

  private settle(t: Track): void {
    if (!t.readDone || t.outstanding > 0) return;
    t.readDone = false; // once
    this.stats.objectsDone++;
    // An object with a bad line or a failed send is read again by a resume (its sent messages are skipped by id).
    if (!t.problem && !this.o.dryRun) this.journal?.done(t.key);
  }

  private dryAdd(it: Item): void {
    const hour = hourPath(it.sentMs);
    const h = this.dry.hours.get(hour) ?? { messages: 0, bytes: 0 };
    h.messages++;
    h.bytes += it.re.size;
    this.dry.hours.set(hour, h);
    this.dry.batches ??= new BatchCounter(Math.min(10, new RateLimiter(this.o.rate).maxBatch));
    this.dry.batches.add(it.re.size);
    if (this.dry.samples.length < 5) this.dry.samples.push(it.messageId);
    it.track.outstanding--;
  }

  private dryReport(): DryRunReport {
    const hours = [...this.dry.hours.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([hour, v]) => ({ hour, ...v }));
    const messages = hours.reduce((n, h) => n + h.messages, 0);
    return {
      hours,
      messages,
      bytes: hours.reduce((n, h) => n + h.bytes, 0),
      s3Requests: { listObjectsV2: this.counters.listRequests, getObject: this.counters.getRequests, total: this.counters.listRequests + this.counters.getRequests },
      sqsRequests: { sendMessageBatch: this.dry.batches?.batches ?? 0 },
      sampleMessageIds: this.dry.samples,
      sourceQueues: [...this.dry.queues],
    };
  }
}
