import { describe, expect, it } from "vitest";
import { HealthState, STUCK_MARGIN_MS, loopWaitsMs, stuckThresholdMs } from "../../src/http/health.js";
import {
  S3_MAX_ATTEMPTS,
  SQS_DELETE_TRIES,
  SQS_HANDLER_CALL_TIMEOUT_MS,
  SQS_MAX_ATTEMPTS,
  SQS_REQUEST_TIMEOUT_SLACK_SECONDS,
  loadConfig,
} from "../../src/config.js";

describe("HealthState", () => {
  function make() {
    let now = 1_000_000;
    const h = new HealthState({ loops: 2, stuckAfterMs: 10_000 }, () => now);
    return { h, advance: (ms: number) => (now += ms) };
  }

  it("is live but not ready until a receive succeeds", () => {
    const { h } = make();
    h.setRunning(true);
    const s = h.snapshot();
    expect(s.live.ok).toBe(true);
    expect(s.ready.ok).toBe(false);
    expect(s.ready.body.reason).toBe("no successful receive yet");
    h.receiveSucceeded(0);
    expect(h.snapshot().ready.ok).toBe(true);
  });

  it("stays live through an AWS outage while loops keep trying, but is not ready", () => {
    const { h, advance } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    h.receiveSucceeded(1);
    for (let i = 0; i < 100; i++) {
      advance(5_000);
      h.receiveFailed(0, "connection");
      h.receiveFailed(1, "connection");
    }
    const s = h.snapshot();
    expect(s.live.ok).toBe(true);
    expect(s.ready.ok).toBe(false);
    expect(String(s.ready.body.reason)).toContain("connection");
  });

  it("fails liveness when a loop makes no progress", () => {
    const { h, advance } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    advance(6_000);
    h.loopProgress(0);
    advance(6_000);
    const s = h.snapshot();
    expect(s.live.ok).toBe(false);
    expect(s.live.body.status).toBe("unhealthy");
    expect(String(s.live.body.reason)).toContain("1 of 2");
  });

  it("is not ready while S3 is failing or during shutdown", () => {
    const { h } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    h.sinkFailed("bucket_not_found");
    expect(h.snapshot().ready.body.reason).toContain("bucket_not_found");
    h.sinkRecovered();
    expect(h.snapshot().ready.ok).toBe(true);
    h.beginShutdown();
    expect(h.snapshot().ready.body.reason).toBe("shutting down");
  });
});

describe("stuckThresholdMs", () => {
  const base = { waitTimeSeconds: 20, s3RequestTimeoutSeconds: 30, pollIntervalSeconds: 0 };
  const sqsAttemptMs = (wait: number) => (wait + SQS_REQUEST_TIMEOUT_SLACK_SECONDS) * 1000;

  it("outlasts every wait of a loop, summed: pause, byte budget, long poll, write, deletes, visibility", () => {
    const waits = loopWaitsMs(base);
    expect(waits.pause).toBe(30_000);
    expect(waits.receive).toBe(SQS_MAX_ATTEMPTS * sqsAttemptMs(20));
    expect(waits.archive).toBe(S3_MAX_ATTEMPTS * 30_000);
    expect(waits.inflightBudget).toBe(S3_MAX_ATTEMPTS * 30_000);
    expect(waits.delete).toBe(SQS_DELETE_TRIES * SQS_HANDLER_CALL_TIMEOUT_MS);
    expect(waits.visibility).toBe(SQS_HANDLER_CALL_TIMEOUT_MS);
    const sum = Object.values(waits).reduce((a, b) => a + b, 0);
    expect(stuckThresholdMs(base)).toBe(sum + STUCK_MARGIN_MS);
  });

  it("liveness survives DeleteMessageBatch hanging: the delete tries fit in it on top of a whole archive step", () => {
    // Issue 8 #4: WAIT_TIME_SECONDS=20 and a short S3 timeout made the old threshold 120 s while a hanging delete
    // held the loop far longer. Every delete try is now bounded by SQS_HANDLER_CALL_TIMEOUT_MS.
    const c = { waitTimeSeconds: 20, s3RequestTimeoutSeconds: 1, pollIntervalSeconds: 0 };
    const t = stuckThresholdMs(c);
    const handlerMs = S3_MAX_ATTEMPTS * 1000 + SQS_DELETE_TRIES * SQS_HANDLER_CALL_TIMEOUT_MS + SQS_HANDLER_CALL_TIMEOUT_MS;
    expect(t).toBeGreaterThan(30_000 + SQS_MAX_ATTEMPTS * sqsAttemptMs(20) + handlerMs);
    // ...and even the unbounded SDK worst case of the old code (2 tries x 3 attempts x (WAIT + 10) s).
    expect(t).toBeGreaterThan(SQS_DELETE_TRIES * SQS_MAX_ATTEMPTS * sqsAttemptMs(20));
  });

  it("ndjson: a batch stays open BATCH_MAX_SECONDS before its write", () => {
    const message = stuckThresholdMs({ ...base, archiveFormat: "message", batchMaxSeconds: 300, s3WriteBudgetSeconds: 120 });
    const ndjson = stuckThresholdMs({ ...base, archiveFormat: "ndjson", batchMaxSeconds: 300, s3WriteBudgetSeconds: 120 });
    expect(ndjson - message).toBe(2 * 300_000); // the handler's wait and the byte budget's
    expect(ndjson).toBeGreaterThan(300_000 + 120_000 + SQS_DELETE_TRIES * SQS_HANDLER_CALL_TIMEOUT_MS);
  });

  it("uses the config's write budget when given", () => {
    expect(loopWaitsMs({ ...base, s3WriteBudgetSeconds: 7 }).archive).toBe(7_000);
  });

  it("is what a real Config gives", () => {
    const config = loadConfig({ SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "bucket", ARCHIVE_FORMAT: "ndjson" });
    expect(stuckThresholdMs(config)).toBe(
      stuckThresholdMs({ ...base, archiveFormat: "ndjson", batchMaxSeconds: config.batchMaxSeconds, s3WriteBudgetSeconds: config.s3WriteBudgetSeconds }),
    );
  });

  it("outlasts a long POLL_INTERVAL_SECONDS pause, so an idle queue never fails liveness", () => {
    expect(stuckThresholdMs({ waitTimeSeconds: 0, s3RequestTimeoutSeconds: 5, pollIntervalSeconds: 3600 })).toBeGreaterThan(3600_000);
  });

  it("is never under two minutes", () => {
    expect(stuckThresholdMs({ waitTimeSeconds: 0, s3RequestTimeoutSeconds: 1, pollIntervalSeconds: 0 })).toBeGreaterThanOrEqual(120_000);
  });
});

describe("readiness names a bucket-wide S3 problem with its detail", () => {
  it("keeps the detail when the same reason is reported again without one, drops it on recovery", () => {
    const h = new HealthState({ loops: 1, stuckAfterMs: 10_000 });
    h.setRunning(true);
    h.receiveSucceeded(0);
    h.sinkFailed("wrong_region", "bucket is in eu-west-1, the S3 client uses us-east-1: set S3_REGION=eu-west-1");
    h.sinkFailed("wrong_region");
    expect(h.snapshot().ready.body.reason).toBe(
      "S3 writes failing: wrong_region (bucket is in eu-west-1, the S3 client uses us-east-1: set S3_REGION=eu-west-1)",
    );
    h.sinkFailed("access_denied");
    expect(h.snapshot().ready.body.reason).toBe("S3 writes failing: access_denied");
    h.sinkRecovered();
    expect(h.snapshot().ready.ok).toBe(true);
  });
});
