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

/**
 * How long a loop may go without progress before liveness fails: longer than any legitimate single step (a poll
 * interval or the longest backoff, then a long poll, then a PutObject with all its attempts), never under 2 minutes.
 */
export function stuckThresholdMs(c: { waitTimeSeconds: number; s3RequestTimeoutSeconds: number; pollIntervalSeconds: number }): number {
  const longestPauseSeconds = Math.max(c.pollIntervalSeconds, 30);
  return Math.max(120_000, (longestPauseSeconds + c.waitTimeSeconds + c.s3RequestTimeoutSeconds * 4 + 60) * 1000);
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

  sinkFailed(reason: string): void {
    this.sinkError = reason;
  }

  sinkRecovered(): void {
    this.sinkError = undefined;
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
      : { ok: true, body: { status: "healthy", ...common } };

    let readyReason: string | undefined;
    if (this.shuttingDown) readyReason = "shutting down";
    else if (this.sinkError) readyReason = `S3 writes failing: ${this.sinkError}`;
    else if (!this.receiveOk) readyReason = this.receiveError ? `SQS receive failing: ${this.receiveError}` : "no successful receive yet";
    const ready: ProbeResult = readyReason
      ? { ok: false, body: { status: "not_ready", reason: readyReason, ...common } }
      : { ok: true, body: { status: "ready", ...common } };
    return { live, ready };
  }
}
