import { describe, expect, it } from "vitest";
import type { FaultAction } from "../support/aws-proxy.js";
import { getJson, metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { countPutsPerKey, expectExactlyOnce, sendAll, waitForDrained, waitForKeys } from "../support/reliability.js";

/**
 * S3 misbehaves for a window of time (500, 503 SlowDown, connection resets, requests that hang past the SDK's
 * timeout). While it does, nothing may be deleted from the queue, failures are counted by reason, retries and
 * back-off are visible in the metrics and the process neither crashes nor spins. After the window every message is
 * archived exactly once with its exact body and the queue drains.
 */
const BUCKET = "s3-faults";
const N = 30;
const WINDOW_MS = 2500;

const cases: Array<{ name: string; action: FaultAction; reason: string; sdkRetries: boolean }> = [
  { name: "500 InternalError", action: { kind: "status", status: 500, code: "InternalError" }, reason: "server_error", sdkRetries: true },
  { name: "503 SlowDown", action: { kind: "status", status: 503, code: "SlowDown", message: "Please reduce your request rate." }, reason: "throttled", sdkRetries: true },
  { name: "connection reset", action: { kind: "reset" }, reason: "connection", sdkRetries: true },
  { name: "hang past the SDK request timeout", action: { kind: "hang" }, reason: "timeout", sdkRetries: true },
];

describe("S3 fault windows", () => {
  const backend = useBackend(BUCKET);

  it.each(cases.map((c, i) => ({ ...c, i })))("$name: nothing deleted during the outage, everything archived once after it", async ({ action, reason, sdkRetries, i }) => {
    const prefix = `case${i}/`;
    const queueUrl = await backend.createQueue(`s3-faults-${i}`);
    const puts = new Map<string, number>();
    let faultHits = 0;
    backend.proxy.setFaults([
      countPutsPerKey(puts),
      {
        match: (op) => {
          const hit = op.name === "PutObject" && (op.key ?? "").startsWith(prefix);
          if (hit) faultHits++;
          return hit;
        },
        action,
      },
    ]);
    const deletesBefore = backend.proxy.counts.get("DeleteMessageBatch") ?? 0;
    const receivesBefore = backend.proxy.counts.get("ReceiveMessage") ?? 0;
    const svc = await startService(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: prefix,
      CONCURRENCY: "2",
      VISIBILITY_TIMEOUT_SECONDS: "2",
      S3_REQUEST_TIMEOUT_SECONDS: "1",
      LOG_LEVEL: "info",
    });
    try {
      const sent = await sendAll(backend, queueUrl, Array.from({ length: N }, (_, j) => JSON.stringify({ case: i, j, pad: "x".repeat(j * 7) })));
      const windowStart = Date.now();
      // The window lasts until at least one write has failed for good (SDK retries of SlowDown alone take seconds).
      // Back-off starts once a whole batch has failed.
      await waitFor(
        async () =>
          Date.now() - windowStart >= WINDOW_MS &&
          (await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "archive" })) > 0 &&
          (await metricValue(svc.base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })) > 0,
        25_000,
        100,
      );

      // During the outage: nothing archived, nothing deleted, every message still in the queue.
      expect(await backend.listKeys(BUCKET, prefix)).toEqual([]);
      expect((backend.proxy.counts.get("DeleteMessageBatch") ?? 0) - deletesBefore).toBe(0);
      const depth = await backend.queueDepth(queueUrl);
      expect(depth.visible + depth.inFlight).toBe(N);
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(0);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "archive", reason })).toBeGreaterThan(0);
      if (sdkRetries) expect(await metricValue(svc.base, "sqs_archiver_s3_retries_total")).toBeGreaterThan(0);
      expect(await metricValue(svc.base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })).toBeGreaterThan(0);
      // Bounded: each message is tried a handful of times (SDK attempts x deliveries), receives back off.
      const windowSeconds = (Date.now() - windowStart) / 1000;
      expect(faultHits).toBeLessThanOrEqual(N * 4 * Math.ceil(windowSeconds / 2 + 1));
      expect((backend.proxy.counts.get("ReceiveMessage") ?? 0) - receivesBefore).toBeLessThan(40);
      // An S3 outage is not a liveness failure.
      const live = await getJson(`${svc.base}/health`);
      expect(live.status).toBe(200);
      expect(svc.logs.events("archive_failed").length).toBeGreaterThan(0);
      expect(svc.logs.events("archive_failed")[0]).toMatchObject({ reason });

      backend.proxy.setFaults([countPutsPerKey(puts)]);
      await waitForKeys(backend, BUCKET, prefix, N, 40_000);
      await waitForDrained(backend, queueUrl, 20_000);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      // The failed attempts never reached the store, so every message was written exactly once: no duplicates.
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(N);
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(N);
      expect(await metricValue(svc.base, "sqs_archiver_messages_in_flight")).toBe(0);
      expect(svc.logs.events("s3_recovered").length).toBeGreaterThan(0);
      expect((await getJson(`${svc.base}/ready`)).status).toBe(200);
      expect(svc.logs.events("batch_failed")).toEqual([]);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 60_000);
});
