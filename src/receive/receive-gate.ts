import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { ReceiveMessageCommand, type ReceiveMessageCommandOutput, type SQSClient } from "@aws-sdk/client-sqs";
import { backoffMs } from "./backoff.js";
import { classifyAwsError, describeError } from "../errors.js";
import type { HealthState } from "../http/health.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

export interface GateOptions {
  pollIntervalMs: number;
  receiveBackoffBaseMs: number;
  receiveBackoffMaxMs: number;
  sinkBackoffBaseMs: number;
  sinkBackoffMaxMs: number;
  random?: () => number;
  now?: () => number;
  /** Told of every receive that returned no message. */
  onEmpty?: () => void;
  /** Receives wait here while the in-flight byte or message budget is spent. */
  admission?: {
    admit(signal?: AbortSignal): Promise<(() => void) | undefined>;
    hold(messages: ReadonlyArray<{ Body?: string | undefined }>): void;
  };
}

/**
 * Consecutive failures of one dependency (SQS receives, or S3 writes), shared by every loop but counted per episode:
 * the level rises at most once per the shortest pause it imposes (half a step, the jitter's floor). One loop failing
 * batch after batch escalates exactly as documented (0.5 s, 1 s, 2 s ... for the sink); eight loops failing at the
 * same moment are one failure, not eight, so CONCURRENCY does not multiply the backoff.
 */
class FailureEpisodes {
  private level = 0;
  private escalatedAt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  get failures(): number {
    return this.level;
  }

  failed(now: number): void {
    const minPauseMs = Math.min(this.maxMs, this.baseMs * 2 ** Math.max(0, this.level - 1)) / 2;
    if (this.level === 0 || now - this.escalatedAt >= minPauseMs) {
      this.level++;
      this.escalatedAt = now;
    }
  }

  reset(): void {
    this.level = 0;
  }
}

/** A FIFO receive whose answer was lost: the loop's next receive repeats its attempt id to get the same messages back. */
interface PendingAttempt {
  id: string;
  firstSentAt: number;
}

/** SQS keeps a ReceiveRequestAttemptId for 5 minutes; reuse one only well within that. */
const ATTEMPT_ID_REUSE_MS = 4 * 60_000;
/** Failures after which the receive may have happened on SQS's side although no answer arrived. */
const ANSWER_MAYBE_LOST = new Set(["connection", "timeout", "server_error", "unknown"]);

type SendOptions = { abortSignal?: AbortSignal } | undefined;

/**
 * Decides when each receive loop may call ReceiveMessage. sqs-consumer re-polls at once after most errors (it only
 * pauses for a fixed time on "connection" errors), so backoff lives here: after failed receives, after batches whose
 * archives all failed (so an S3 outage does not churn the backlog towards the DLQ), and after an empty receive when
 * POLL_INTERVAL_SECONDS is set. Shutdown wakes every sleeping loop and turns further receives into empty results.
 */
export class ReceiveGate {
  private readonly receiveFailures: FailureEpisodes;
  private readonly sinkFailures: FailureEpisodes;
  /** Per loop, for FIFO queues: the attempt id of a receive whose answer may have been lost. */
  private readonly pendingAttempts = new Map<number, PendingAttempt>();
  private readonly now: () => number;
  private stopping = false;
  /** Failed receives since the last successful one, all loops (for logging; the backoff counts episodes). */
  private consecutiveReceiveErrors = 0;
  /** Aborted by stop(): wakes loops sleeping in a backoff or poll interval. */
  private readonly stopAbort = new AbortController();
  private readonly receiveAbort = new AbortController();
  private readonly emptyAfter = new Set<number>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly opts: GateOptions,
    private readonly metrics: Metrics,
    private readonly health: HealthState,
    private readonly log: Logger,
  ) {
    this.receiveFailures = new FailureEpisodes(opts.receiveBackoffBaseMs, opts.receiveBackoffMaxMs);
    this.sinkFailures = new FailureEpisodes(opts.sinkBackoffBaseMs, opts.sinkBackoffMaxMs);
    this.now = opts.now ?? Date.now;
  }

  /** The client handed to sqs-consumer for loop `loop`: receives are gated, other calls pass through. */
  clientFor(loop: number): SQSClient {
    const facade = {
      config: this.sqs.config,
      send: (command: unknown, options?: SendOptions) => {
        if (command instanceof ReceiveMessageCommand) return this.receive(loop, command, options);
        return this.sqs.send(command as never, options as never);
      },
      destroy: () => undefined,
    };
    return facade as unknown as SQSClient;
  }

  /** Stop issuing receives; sleeping loops return an empty result at once. */
  stop(): void {
    this.stopping = true;
    this.stopAbort.abort();
  }

  /** Abort long polls still open (only at the shutdown deadline: SQS may still hand messages to an aborted poll). */
  abortReceives(): void {
    this.receiveAbort.abort(new Error("shutdown deadline"));
  }

  /**
   * Called with each batch's outcome so S3 trouble slows down receiving. `sinkFatalDetail` (e.g. the bucket's real
   * region) is shown on /ready after the reason.
   */
  batchOutcome(archived: number, failed: number, sinkFatalReason?: string, sinkFatalDetail?: string): void {
    if (failed > 0 && archived === 0) {
      this.sinkFailures.failed(this.now());
      if (sinkFatalReason) this.health.sinkFailed(sinkFatalReason, sinkFatalDetail);
    } else if (archived > 0) {
      if (this.sinkFailures.failures > 0) this.log.info({ event: "s3_recovered" }, "S3 writes succeeding again");
      this.sinkFailures.reset();
      this.health.sinkRecovered();
    }
  }

  /** The pause the next receive of `loop` would take now, and why (for tests and diagnostics). */
  nextDelay(loop: number): { ms: number; reason: string } {
    return this.delay(loop);
  }

  private delay(loop: number): { ms: number; reason: string } {
    const r = this.opts.random ?? Math.random;
    const receive = backoffMs(this.receiveFailures.failures, this.opts.receiveBackoffBaseMs, this.opts.receiveBackoffMaxMs, r);
    const sink = backoffMs(this.sinkFailures.failures, this.opts.sinkBackoffBaseMs, this.opts.sinkBackoffMaxMs, r);
    if (receive >= sink && receive > 0) return { ms: receive, reason: "sqs_errors" };
    if (sink > 0) return { ms: sink, reason: "s3_errors" };
    if (this.emptyAfter.has(loop) && this.opts.pollIntervalMs > 0) return { ms: this.opts.pollIntervalMs, reason: "poll_interval" };
    return { ms: 0, reason: "" };
  }

  /**
   * FIFO queues: one ReceiveRequestAttemptId per logical receive. It is set on the command's input before send, so the
   * SDK's own retries of this receive (same serialized request) carry the same id and SQS returns the messages the lost
   * answer held instead of hiding them, with their groups, for the visibility timeout. When every attempt failed
   * without an answer, the loop's next receive repeats the id (within SQS's 5 minutes); otherwise each receive gets a
   * new one. Standard queues do not accept the parameter's semantics and get none.
   */
  private setAttemptId(loop: number, command: ReceiveMessageCommand): PendingAttempt | undefined {
    const input = command.input as { QueueUrl?: string; ReceiveRequestAttemptId?: string };
    if (!input.QueueUrl?.endsWith(".fifo")) return undefined;
    const now = this.now();
    if (input.ReceiveRequestAttemptId) return { id: input.ReceiveRequestAttemptId, firstSentAt: now };
    const pending = this.pendingAttempts.get(loop);
    const attempt = pending && now - pending.firstSentAt < ATTEMPT_ID_REUSE_MS ? pending : { id: randomUUID(), firstSentAt: now };
    input.ReceiveRequestAttemptId = attempt.id;
    return attempt;
  }

  private async receive(loop: number, command: ReceiveMessageCommand, options: SendOptions): Promise<ReceiveMessageCommandOutput> {
    const { ms, reason } = this.delay(loop);
    if (ms > 0 && !this.stopping) {
      if (reason !== "poll_interval") this.metrics.pollBackoffs.inc({ reason });
      this.health.loopProgress(loop);
      await delay(ms, undefined, { signal: this.stopAbort.signal }).catch(() => undefined);
    }
    if (this.stopping) return { Messages: [], $metadata: {} };
    const admitted = this.opts.admission ? await this.opts.admission.admit(this.stopAbort.signal) : () => undefined;
    if (!admitted || this.stopping) {
      admitted?.();
      return { Messages: [], $metadata: {} };
    }
    try {
      return await this.receiveAdmitted(loop, command, options);
    } finally {
      admitted();
    }
  }

  private async receiveAdmitted(loop: number, command: ReceiveMessageCommand, options: SendOptions): Promise<ReceiveMessageCommandOutput> {
    this.health.loopProgress(loop);
    const signal = options?.abortSignal ? AbortSignal.any([options.abortSignal, this.receiveAbort.signal]) : this.receiveAbort.signal;
    const attempt = this.setAttemptId(loop, command);
    try {
      const out = await this.sqs.send(command, { abortSignal: signal });
      this.pendingAttempts.delete(loop);
      const n = out.Messages?.length ?? 0;
      if (n > 0) this.opts.admission?.hold(out.Messages ?? []);
      if (this.receiveFailures.failures > 0) this.log.info({ event: "receive_recovered", loop }, "SQS receive succeeding again");
      this.receiveFailures.reset();
      this.consecutiveReceiveErrors = 0;
      this.metrics.receiveRequests.inc({ result: n > 0 ? "messages" : "empty" });
      this.metrics.lastPollTimestamp.set(Date.now() / 1000);
      this.health.receiveSucceeded(loop);
      if (n === 0) {
        this.emptyAfter.add(loop);
        this.opts.onEmpty?.();
      }
      else this.emptyAfter.delete(loop);
      return out;
    } catch (err) {
      const reason = classifyAwsError(err);
      if (attempt && ANSWER_MAYBE_LOST.has(reason)) this.pendingAttempts.set(loop, attempt);
      else this.pendingAttempts.delete(loop);
      if (reason === "aborted" && this.stopping) return { Messages: [], $metadata: {} };
      this.receiveFailures.failed(this.now());
      this.consecutiveReceiveErrors++;
      this.metrics.receiveRequests.inc({ result: "error" });
      this.metrics.failures.inc({ stage: "receive", reason });
      this.health.receiveFailed(loop, reason);
      // Log the first failure and then every tenth, so an outage is visible without flooding the log.
      if (this.consecutiveReceiveErrors === 1 || this.consecutiveReceiveErrors % 10 === 0) {
        this.log.error(
          { event: "receive_failed", loop, reason, consecutive: this.consecutiveReceiveErrors, err: describeError(err) },
          "ReceiveMessage failed",
        );
      }
      throw err;
    }
  }
}
