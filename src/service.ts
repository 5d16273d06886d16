import { setTimeout as delay } from "node:timers/promises";
import { Consumer } from "sqs-consumer";
import type { FastifyInstance } from "fastify";
import { createAwsClients, type AwsClients } from "./aws/aws-clients.js";
import { BatchHandler } from "./receive/batch-handler.js";
import { FreshnessTracker } from "./receive/freshness.js";
import { RECEIVE_BACKOFF_MAX_MS, SINK_BACKOFF_MAX_MS, type Config } from "./config.js";
import { describeError } from "./errors.js";
import { HealthState, stuckThresholdMs } from "./http/health.js";
import type { Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { checkBucket, preflight } from "./aws/preflight.js";
import { ReceiveGate } from "./receive/receive-gate.js";
import { S3Writer } from "./sinks/s3-writer.js";
import { Backpressure } from "./receive/backpressure.js";
import { BatchSink } from "./sinks/batch-sink.js";
import { MessageSink } from "./sinks/message-sink.js";
import type { ArchiveSink } from "./sinks/sink.js";
import { createProbeServer, type ProbeServer } from "./http/server.js";

export interface ServiceOptions {
  config: Config;
  log: Logger;
  version: string;
  nodeVersion: string;
  /** Injected in tests; built from config otherwise. */
  clients?: AwsClients;
  /** Host for the probe server; all interfaces in a pod. */
  host?: string;
}

export interface StopResult {
  /**
   * True when everything drained before the deadline and every message received was either deleted or handed back
   * unstarted: false when a message had to be released because its archive was not durable, or could not be released.
   */
  clean: boolean;
  elapsedMs: number;
  released: { unstarted: number; notDurable: number };
  releaseFailed: number;
}

function ndjsonSettings(config: Config): Record<string, unknown> | undefined {
  if (config.archiveFormat !== "ndjson") return undefined;
  return {
    archiveCompression: config.archiveCompression,
    batchMaxMessages: config.batchMaxMessages,
    batchMaxBytes: config.batchMaxBytes,
    batchMaxSeconds: config.batchMaxSeconds,
  };
}

// Shutdown waits must never be what keeps the process alive.
const sleep = (ms: number) => delay(ms, undefined, { ref: false });

/**
 * Wires CONCURRENCY sqs-consumer loops, the gate, the batch handler and the probe server, and owns the shutdown
 * sequence. Nothing here touches `process`: main.ts translates signals into stop().
 */
export class ArchiverService {
  readonly metrics: Metrics;
  readonly health: HealthState;
  private readonly clients: AwsClients;
  private readonly gate: ReceiveGate;
  private readonly handler: BatchHandler;
  private readonly freshness: FreshnessTracker;
  private readonly sink: ArchiveSink;
  private readonly backpressure: Backpressure;
  /** Aborted at the shutdown deadline: S3 writes still running are cut and their messages released. */
  private readonly writes = new AbortController();
  private readonly consumers: Consumer[] = [];
  private readonly probes: ProbeServer;
  private readonly server: FastifyInstance;
  private stopping: Promise<StopResult> | undefined;
  private preflightAbort = new AbortController();

  constructor(private readonly o: ServiceOptions) {
    const { config, log } = o;
    // A failed write is redelivered after the visibility timeout, once receives are no longer backed off.
    this.freshness = new FreshnessTracker((config.visibilityTimeoutSeconds + config.waitTimeSeconds + 30) * 1000 + SINK_BACKOFF_MAX_MS);
    this.metrics = createMetrics(o.version, o.nodeVersion, () => this.freshness.oldestAgeSeconds());
    this.health = new HealthState({ loops: config.concurrency, stuckAfterMs: stuckThresholdMs(config) });
    this.clients = o.clients ?? createAwsClients(config);
    const ndjson = config.archiveFormat === "ndjson";
    this.backpressure = new Backpressure({
      maxBytes: config.maxInflightBytes,
      // One batch being written while the next fills; message mode is bounded by the loops waiting on their batches.
      maxMessages: ndjson ? 2 * config.batchMaxMessages : Number.POSITIVE_INFINITY,
      messagesPerPoll: config.maxMessagesPerPoll,
      onChange: ({ bytes }) => this.metrics.inflightBytes.set(bytes),
      // A budget smaller than one batch would otherwise stall receiving until the batch's age flush.
      onBytesBlocked: () => this.sink.closeOpen("budget"),
    });
    this.metrics.inflightBytesLimit.set(config.maxInflightBytes);
    const writer = new S3Writer(this.clients.s3, config);
    const sinkDeps = { config, writer, metrics: this.metrics, log, signal: this.writes.signal };
    this.sink = ndjson
      ? new BatchSink({
          ...sinkDeps,
          holdBytes: (n) => this.backpressure.holdBytes(n),
          releaseBytes: (n) => this.backpressure.releaseBytes(n),
        })
      : new MessageSink(sinkDeps);
    this.gate = new ReceiveGate(
      this.clients.sqs,
      {
        pollIntervalMs: config.pollIntervalSeconds * 1000,
        receiveBackoffBaseMs: 250,
        receiveBackoffMaxMs: RECEIVE_BACKOFF_MAX_MS,
        sinkBackoffBaseMs: 500,
        sinkBackoffMaxMs: SINK_BACKOFF_MAX_MS,
        admission: this.backpressure,
        onEmpty: () => this.handler.receivedNothing(),
      },
      this.metrics,
      this.health,
      log,
    );
    this.handler = new BatchHandler({
      config,
      sqs: this.clients.sqs,
      sink: this.sink,
      backpressure: this.backpressure,
      metrics: this.metrics,
      health: this.health,
      gate: this.gate,
      log,
      freshness: this.freshness,
    });
    this.probes = createProbeServer({ health: this.health, metrics: this.metrics });
    this.server = this.probes.app;

    for (let loop = 0; loop < config.concurrency; loop++) {
      const c = Consumer.create({
        queueUrl: config.queueUrl,
        sqs: this.gate.clientFor(loop),
        batchSize: config.maxMessagesPerPoll,
        waitTimeSeconds: config.waitTimeSeconds,
        visibilityTimeout: config.visibilityTimeoutSeconds,
        // No heartbeatInterval: sqs-consumer's heartbeat renews the whole batch, including messages already deleted or
        // failed; the batch handler renews only the messages it is still working on.
        // Ask for everything explicitly: AWS returns no attributes unless asked (the emulator returns them anyway).
        attributeNames: ["All"],
        messageSystemAttributeNames: ["All"],
        messageAttributeNames: ["All"],
        // Backoff is the gate's job; sqs-consumer's own fixed pause would stack on top of it.
        authenticationErrorTimeout: 0,
        pollingWaitTimeMs: 0,
        suppressFifoWarning: true,
        strictReturn: true,
        handleMessageBatch: async (messages) => {
          this.health.loopProgress(loop);
          const r = await this.handler.handle(messages);
          this.health.loopProgress(loop);
          return r;
        },
      });
      // Without listeners an EventEmitter "error" throws. Receive errors are counted and logged by the gate; the
      // handler never throws and deletes itself, so anything else here is unexpected and logged as such.
      c.on("error", (err, messages) => {
        if (!messages) return;
        const cause = (err as { cause?: unknown }).cause ?? err;
        const ids = (Array.isArray(messages) ? messages : [messages]).map((m) => m.MessageId);
        log.error({ event: "consumer_error", loop, messageIds: ids, err: describeError(cause) }, "sqs-consumer reported an error");
      });
      c.on("processing_error", (err) => log.error({ event: "processing_error", loop, err: describeError(err) }, "handler error"));
      c.on("timeout_error", (err) => log.error({ event: "timeout_error", loop, err: describeError(err) }, "handler timeout"));
      this.consumers.push(c);
    }
  }

  get port(): number {
    const addr = this.server.server.address();
    return typeof addr === "object" && addr ? addr.port : this.o.config.healthPort;
  }

  async start(): Promise<void> {
    const { config, log } = this.o;
    await this.server.listen({ port: config.healthPort, host: this.o.host ?? "0.0.0.0" });
    log.info(
      {
        event: "started",
        queueUrl: config.queueUrl,
        bucket: config.bucket,
        prefix: config.prefix,
        region: config.region,
        s3Region: config.s3Region,
        archiveFormat: config.archiveFormat,
        ...(ndjsonSettings(config) ?? {}),
        maxInflightBytes: config.maxInflightBytes,
        visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
        concurrency: config.concurrency,
        healthPort: this.port,
        version: this.o.version,
      },
      "sqs-archiver started",
    );
    void preflight(this.clients.sqs, config, log, this.preflightAbort.signal);
    // The bucket's region, checked once at start-up: a bucket in another region fails readiness at once, naming both
    // regions, instead of after the first failed write (or never, on an idle queue).
    void checkBucket(this.clients.s3, config, log, this.preflightAbort.signal).then((check) => {
      if (check.status === "wrong_region" && !this.preflightAbort.signal.aborted) this.health.sinkFailed("wrong_region", check.detail);
    });
    this.health.setRunning(true);
    for (const c of this.consumers) c.start();
  }

  /**
   * Graceful stop within SHUTDOWN_TIMEOUT_SECONDS: readiness fails at once; no new receives; open ndjson batches are
   * closed and written; open long polls are allowed to return (aborting one client-side does not cancel it in SQS,
   * whose messages would then stay invisible) and whatever they bring is released unstarted; in-flight archives finish
   * and are deleted. Long polls still open near the deadline are aborted. At the work deadline, S3 writes still
   * running are aborted and their messages released (visibility 0); deletes of messages already archived are never
   * aborted, only bounded so the process still exits by the deadline.
   */
  stop(): Promise<StopResult> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<StopResult> {
    const { config, log } = this.o;
    const started = Date.now();
    const budgetMs = config.shutdownTimeoutSeconds * 1000;
    const end = started + budgetMs;
    const receiveDeadline = end - Math.min(5000, budgetMs * 0.25);
    const workDeadline = end - Math.min(3000, budgetMs * 0.15);
    log.info({ event: "shutdown_started", timeoutSeconds: config.shutdownTimeoutSeconds, buffered: this.sink.pending }, "shutting down");

    this.health.beginShutdown();
    this.probes.refresh();
    this.preflightAbort.abort();
    this.handler.beginShutdown();
    this.gate.stop();
    for (const c of this.consumers) c.stop();
    this.sink.flushAll("shutdown");

    const idle = (async () => {
      while (this.consumers.some((c) => c.status.isPolling) || this.handler.activeBatches > 0) await sleep(25);
    })().then(() => true);
    const until = (t: number) => sleep(Math.max(0, t - Date.now())).then(() => false);
    let clean = await Promise.race([idle, until(receiveDeadline)]);
    if (!clean) {
      log.warn({ event: "shutdown_abort_receives" }, "aborting long polls still open near the shutdown deadline");
      this.gate.abortReceives();
      clean = await Promise.race([idle, until(workDeadline)]);
      if (!clean) {
        log.error(
          { event: "shutdown_deadline", activeBatches: this.handler.activeBatches, inFlight: this.handler.messagesInFlight },
          "shutdown deadline reached; aborting S3 writes still running (their messages are released); archived messages are still deleted",
        );
        this.writes.abort(new Error("shutdown deadline"));
        this.handler.abortWork(end);
        await Promise.race([idle, until(end + 250)]);
      }
    }
    this.health.setRunning(false);
    await this.server.close();
    this.clients.destroy();
    const elapsedMs = Date.now() - started;
    const { released, releaseFailed } = this.handler.releaseSummary;
    const result = { clean: clean && released.notDurable === 0 && releaseFailed === 0, elapsedMs, released, releaseFailed };
    (result.clean ? log.info.bind(log) : log.warn.bind(log))(
      { event: "shutdown_complete", ...result, inFlight: this.handler.messagesInFlight },
      result.clean
        ? "stopped"
        : `stopped; ${released.notDurable} message(s) released without a durable archive (they redeliver at once), ${releaseFailed} could not be released (invisible until their visibility timeout)`,
    );
    return result;
  }
}
