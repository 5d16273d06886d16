import { S3_MAX_ATTEMPTS, SQS_MAX_ATTEMPTS, sqsRequestTimeoutMs } from "../aws/sdk-settings.js";
import { RECEIVE_BACKOFF_MAX_MS, SINK_BACKOFF_MAX_MS, SQS_DELETE_TRIES, SQS_HANDLER_CALL_TIMEOUT_MS, type ArchiveFormat } from "../config.js";

/**
 * Liveness and readiness computed from the loops' reported progress. The HTTP layer serves a cached snapshot
 * refreshed on a timer (as @fastify/under-pressure does), so a probe never does work or waits on AWS.
 */
export interface ProbeResult {
  ok: boolean;
  body: Record<string, unknown>;
}

export interface HealthSnapshot {
  live: ProbeResult;
  ready: ProbeResult;
}

/** What the stuck threshold is derived from (a Config satisfies it; the optional fields default as Config does). */
export interface StuckThresholdInput {
  waitTimeSeconds: number;
  s3RequestTimeoutSeconds: number;
  pollIntervalSeconds: number;
  /** Default S3_MAX_ATTEMPTS x s3RequestTimeoutSeconds. */
  s3WriteBudgetSeconds?: number;
  /** Default "message". */
  archiveFormat?: ArchiveFormat;
  /** Only with archiveFormat "ndjson". */
  batchMaxSeconds?: number;
}

/** Each wait that can happen in one receive loop between two progress reports, in ms (summed by stuckThresholdMs). */
export function loopWaitsMs(c: StuckThresholdInput): Record<string, number> {
  const writeBudgetMs = (c.s3WriteBudgetSeconds ?? S3_MAX_ATTEMPTS * c.s3RequestTimeoutSeconds) * 1000;
  const ndjsonMs = c.archiveFormat === "ndjson" ? (c.batchMaxSeconds ?? 0) * 1000 : 0;
  // One SQS call with all its SDK attempts, each bounded by the client's request timeout.
  const sqsCallMs = SQS_MAX_ATTEMPTS * sqsRequestTimeoutMs(c.waitTimeSeconds);
  return {
    // Before a receive: POLL_INTERVAL_SECONDS after an empty receive, or the longest backoff.
    pause: Math.max(c.pollIntervalSeconds * 1000, RECEIVE_BACKOFF_MAX_MS, SINK_BACKOFF_MAX_MS),
    // Before a receive: the in-flight byte budget frees once a write (an ndjson batch: its age limit, then its write) ends.
    inflightBudget: writeBudgetMs + ndjsonMs,
    // The long poll: WAIT_TIME_SECONDS plus the request timeout's slack, for every SDK attempt.
    receive: sqsCallMs,
    // The handler: the archive write with all its attempts (ndjson: the batch may stay open BATCH_MAX_SECONDS first).
    archive: writeBudgetMs + ndjsonMs,
    // Then its deletes: each try bounded as a whole (SQS_HANDLER_CALL_TIMEOUT_MS), never longer than the SDK's own bound.
    delete: SQS_DELETE_TRIES * Math.min(SQS_HANDLER_CALL_TIMEOUT_MS, sqsCallMs),
    // And a release or visibility change (ChangeMessageVisibilityBatch), bounded the same way.
    visibility: Math.min(SQS_HANDLER_CALL_TIMEOUT_MS, sqsCallMs),
  };
}

/** Added to the sum of the waits: event-loop stalls, SDK retry delays, credential refreshes. */
export const STUCK_MARGIN_MS = 60_000;

/**
 * How long a loop may go without progress before liveness fails: the sum of every wait a loop can be in between two
 * progress reports (a pause, the in-flight byte budget, a long poll with all its attempts, an archive write with all
 * its attempts, the delete tries and a visibility call, each bounded), plus a margin; never under 2 minutes. Summing
 * (rather than taking the longest) keeps it valid wherever the loop happens to report progress, so only a loop that
 * is really wedged (a deadlock, a hang outside every bounded call) fails liveness, never an SQS or S3 brownout.
 */
export function stuckThresholdMs(c: StuckThresholdInput): number {
  const total = Object.values(loopWaitsMs(c)).reduce((a, b) => a + b, 0);
  return Math.max(120_000, total + STUCK_MARGIN_MS);
}

export interface HealthOptions {
  loops: number;
  /** A loop with no progress for this long while running is stuck (deadlocked handler, hung socket). */
  stuckAfterMs: number;
}

export class HealthState {
  private readonly startedAt: number;
  private readonly loopActivity: number[];
  private lastPollAt: number | undefined;
  private receiveOk = false;
  private receiveError: string | undefined;
  private sinkError: string | undefined;
  private sinkDetail: string | undefined;
  private shuttingDown = false;
  private running = false;
  private processed = 0;
  private inFlight = 0;

  constructor(
    private readonly opts: HealthOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.loopActivity = Array.from({ length: opts.loops }, () => this.startedAt);
  }

  setRunning(running: boolean): void {
    this.running = running;
    if (running) this.loopActivity.fill(this.now());
  }

  loopProgress(loop: number): void {
    this.loopActivity[loop] = this.now();
  }

  receiveSucceeded(loop: number): void {
    const t = this.now();
    this.lastPollAt = t;
    this.loopActivity[loop] = t;
    this.receiveOk = true;
    this.receiveError = undefined;
  }

  receiveFailed(loop: number, reason: string): void {
    this.loopActivity[loop] = this.now();
    this.receiveOk = false;
    this.receiveError = reason;
  }

  /**
   * S3 rejects writes bucket-wide. `detail` (what is wrong and how to fix it, e.g. the bucket's real region) is shown
   * after the reason; a later report of the same reason without a detail keeps the one already known.
   */
  sinkFailed(reason: string, detail?: string): void {
    if (reason !== this.sinkError || detail !== undefined) this.sinkDetail = detail;
    this.sinkError = reason;
  }

  sinkRecovered(): void {
    this.sinkError = undefined;
    this.sinkDetail = undefined;
  }

  addProcessed(n: number): void {
    this.processed += n;
  }

  setInFlight(n: number): void {
    this.inFlight = n;
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }

  get lastPoll(): number | undefined {
    return this.lastPollAt;
  }

  snapshot(): HealthSnapshot {
    const now = this.now();
    const common = {
      last_poll: this.lastPollAt === undefined ? null : new Date(this.lastPollAt).toISOString(),
      messages_processed: this.processed,
      messages_in_flight: this.inFlight,
      loops: this.opts.loops,
      uptime_seconds: Math.round((now - this.startedAt) / 1000),
    };

    const stuck = this.running ? this.loopActivity.filter((t) => now - t > this.opts.stuckAfterMs).length : 0;
    let liveReason: string | undefined;
    // An AWS outage is not a liveness failure: loops that fail and back off still report progress.
    if (stuck > 0) liveReason = `${stuck} of ${this.opts.loops} receive loops made no progress for over ${Math.round(this.opts.stuckAfterMs / 1000)}s`;
    const live: ProbeResult = liveReason
      ? { ok: false, body: { status: "unhealthy", reason: liveReason, ...common } }
      : { ok: true, body: { status: "healthy", ...common, stuck_after_seconds: Math.round(this.opts.stuckAfterMs / 1000) } };

    let readyReason: string | undefined;
    if (this.shuttingDown) readyReason = "shutting down";
    else if (this.sinkError) readyReason = `S3 writes failing: ${this.sinkError}${this.sinkDetail ? ` (${this.sinkDetail})` : ""}`;
    else if (!this.receiveOk) readyReason = this.receiveError ? `SQS receive failing: ${this.receiveError}` : "no successful receive yet";
    const ready: ProbeResult = readyReason
      ? { ok: false, body: { status: "not_ready", reason: readyReason, ...common } }
      : { ok: true, body: { status: "ready", ...common } };
    return { live, ready };
  }
}
