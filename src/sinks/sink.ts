import type { ArchiveFormat, Config } from "../config.js";
import type { Metrics } from "../metrics.js";
import type { WriteOptions } from "./s3-writer.js";
import type { ValidMessage } from "../archive/envelope.js";
import { ArchiveWriteError, classifyAwsError, describeError } from "../errors.js";

/**
 * The contract between the receive side and an archive format. The receive side hands over each verified message and
 * gets back a promise of its durable outcome; deletes, releases, heartbeats, metrics and shutdown are then one piece
 * of code (src/receive/batch-handler.ts) whatever the layout.
 */
export type SinkOutcome =
  /** Durable in an object this process wrote. */
  | { status: "written"; key: string }
  /** Durable already: the key existed (412), an earlier delivery or an identical batch stored it. */
  | { status: "already_stored"; key: string }
  /** Not durable. `aborted` marks a write cut by the shutdown deadline (the message is released, not left in flight). */
  | { status: "failed"; reason: string; sinkFatal: boolean; aborted: boolean; key?: string; error?: { code: string; message: string };
      /** For bucket-wide failures: what to tell the operator (e.g. the bucket's real region). */
      detail?: string }
  /** The message itself cannot be archived in this layout (verify stage; never counts against the sink). */
  | { status: "rejected"; code: string; detail: string };

export interface SinkItem {
  valid: ValidMessage;
  /** The serialised envelope, one line of JSON. */
  json: string;
}

export interface ArchiveSink {
  readonly format: ArchiveFormat;
  /** Never rejects: every failure is an outcome. */
  submit(item: SinkItem): Promise<SinkOutcome>;
  /** Close every open batch now and start writing it (shutdown). No-op for one object per message. */
  flushAll(reason: "shutdown"): void;
  /**
   * Close every open batch now without stopping: `fifo`, receives from a FIFO queue stopped bringing new messages (its
   * groups are locked until the batch is durable); `budget`, receiving is blocked on MAX_INFLIGHT_BYTES (only the largest
   * batch is closed). No-op for one object per message.
   */
  closeOpen(reason: "fifo" | "budget"): void;
  /** Messages accepted and not yet durable or failed. */
  readonly pending: number;
}

/**
 * Options for a write: the outcome check after an unknown outcome is bounded by the request timeout (at most 5 s), or
 * 1.5 s once the shutdown deadline has cut the write (the drain has about 3 s left then).
 */
export function checkOptions(config: Config, metrics: Metrics, shutdown: AbortSignal): WriteOptions {
  return {
    checkTimeoutMs: () => (shutdown.aborted ? 1_500 : Math.min(5_000, config.s3RequestTimeoutSeconds * 1000)),
    onCheck: (result) => metrics.writeOutcomeChecks.inc({ result }),
  };
}

export function isDurable(o: SinkOutcome): o is Extract<SinkOutcome, { status: "written" | "already_stored" }> {
  return o.status === "written" || o.status === "already_stored";
}

export type FailedOutcome = Extract<SinkOutcome, { status: "failed" }>;

/**
 * The outcome of a write that threw. `shutdownAborted` tells the shutdown deadline's abort (the message is released)
 * from the write budget running out (an abort too, reported as `timeout`). `attempts` is what the SDK spent, for
 * `s3_retries_total`.
 */
export function writeFailure(err: unknown, shutdownAborted: boolean, key: string | undefined): { outcome: FailedOutcome; attempts: number } {
  const classified = err instanceof ArchiveWriteError ? err.code : classifyAwsError(err);
  const reason = shutdownAborted ? "aborted" : classified === "aborted" ? "timeout" : classified;
  const sinkFatal = !shutdownAborted && err instanceof ArchiveWriteError ? err.sinkFatal : false;
  const detail = err instanceof ArchiveWriteError ? err.detail : undefined;
  const cause = (err as { cause?: unknown }).cause ?? err;
  const attempts = err instanceof ArchiveWriteError ? ((cause as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1) : 1;
  const outcome: FailedOutcome = {
    status: "failed",
    reason,
    sinkFatal,
    aborted: shutdownAborted,
    error: describeError(cause),
    ...(key ? { key } : {}),
    ...(detail ? { detail } : {}),
  };
  return { outcome, attempts };
}
