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
  /** Receives wait here while the in-flight byte or message budget is spent. */
  admission?: {
    admit(signal?: AbortSignal): Promise<(() => void) | undefined>;
    hold(messages: ReadonlyArray<{ Body?: string | undefined }>): void;
  };
}

type SendOptions = { abortSignal?: AbortSignal } | undefined;

/**
 * Decides when each receive loop may call ReceiveMessage. sqs-consumer re-polls at once after most errors (it only
 * pauses for a fixed time on "connection" errors), so backoff lives here: after failed receives, after batches whose
 * archives all failed (so an S3 outage does not churn the backlog towards the DLQ), and after an empty receive when
 * POLL_INTERVAL_SECONDS is set. Shutdown wakes every sleeping loop and turns further receives into empty results.
 */
export class ReceiveGate {
  private receiveFailures = 0;
  private sinkFailures = 0;
  private stopping = false;
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
  ) {}

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

  /** Called with each batch's outcome so S3 trouble slows down receiving. */
  batchOutcome(archived: number, failed: number, sinkFatalReason?: string): void {
    if (failed > 0 && archived === 0) {
      this.sinkFailures++;
      if (sinkFatalReason) this.health.sinkFailed(sinkFatalReason);
    } else if (archived > 0) {
      if (this.sinkFailures > 0) this.log.info({ event: "s3_recovered" }, "S3 writes succeeding again");
      this.sinkFailures = 0;
      this.health.sinkRecovered();
    }
  }

  private delay(loop: number): { ms: number; reason: string } {
    const r = this.opts.random ?? Math.random;
    const receive = backoffMs(this.receiveFailures, this.opts.receiveBackoffBaseMs, this.opts.receiveBackoffMaxMs, r);
    const sink = backoffMs(this.sinkFailures, this.opts.sinkBackoffBaseMs, this.opts.sinkBackoffMaxMs, r);
    if (receive >= sink && receive > 0) return { ms: receive, reason: "sqs_errors" };
    if (sink > 0) return { ms: sink, reason: "s3_errors" };
    if (this.emptyAfter.has(loop) && this.opts.pollIntervalMs > 0) return { ms: this.opts.pollIntervalMs, reason: "poll_interval" };
    return { ms: 0, reason: "" };
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
    try {
      const out = await this.sqs.send(command, { abortSignal: signal });
      const n = out.Messages?.length ?? 0;
      if (n > 0) this.opts.admission?.hold(out.Messages ?? []);
      if (this.receiveFailures > 0) this.log.info({ event: "receive_recovered", loop }, "SQS receive succeeding again");
      this.receiveFailures = 0;
      this.metrics.receiveRequests.inc({ result: n > 0 ? "messages" : "empty" });
      this.metrics.lastPollTimestamp.set(Date.now() / 1000);
      this.health.receiveSucceeded(loop);
      if (n === 0) this.emptyAfter.add(loop);
      else this.emptyAfter.delete(loop);
      return out;
    } catch (err) {
      const reason = classifyAwsError(err);
      if (reason === "aborted" && this.stopping) return { Messages: [], $metadata: {} };
      this.receiveFailures++;
      this.metrics.receiveRequests.inc({ result: "error" });
      this.metrics.failures.inc({ stage: "receive", reason });
      this.health.receiveFailed(loop, reason);
      // Log the first failure and then every tenth, so an outage is visible without flooding the log.
      if (this.receiveFailures === 1 || this.receiveFailures % 10 === 0) {
        this.log.error({ event: "receive_failed", loop, reason, consecutive: this.receiveFailures, err: describeError(err) }, "ReceiveMessage failed");
      }
      throw err;
    }
  }
}
