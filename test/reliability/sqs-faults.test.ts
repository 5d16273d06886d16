import { describe, expect, it } from "vitest";
import type { FaultAction } from "../support/aws-proxy.js";
import { getJson, metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, sleep, waitForDrained, waitForKeys } from "../support/reliability.js";

/**
 * SQS receive outages (5xx, throttling, connection resets): the loops back off instead of spinning, readiness goes
 * false with the reason during the outage and true again after it, liveness stays healthy throughout, and messages
 * sent during the outage are archived exactly once afterwards.
 */
const BUCKET = "sqs-faults";
const WINDOW_MS = 3000;

const cases: Array<{ name: string; action: FaultAction; reason: string }> = [
  { name: "500 InternalError", action: { kind: "status", status: 500, code: "InternalError" }, reason: "server_error" },
  { name: "throttling", action: { kind: "status", status: 400, code: "ThrottlingException", message: "Rate exceeded" }, reason: "throttled" },
  { name: "connection reset", action: { kind: "reset" }, reason: "connection" },
];

describe("SQS receive outages", () => {
  const backend = useBackend(BUCKET);

  it.each(cases.map((c, i) => ({ ...c, i })))("$name: backs off, not ready during the outage, live throughout, recovers", async ({ action, reason, i }) => {
    const prefix = `case${i}/`;
    const queueUrl = await backend.createQueue(`sqs-faults-${i}`);
    const svc = await startService(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: prefix,
      CONCURRENCY: "2",
      VISIBILITY_TIMEOUT_SECONDS: "5",
      LOG_LEVEL: "info",
    });
    try {
      await waitFor(async () => (await getJson(`${svc.base}/ready`)).status === 200, 10_000);

      const receivesBefore = backend.proxy.counts.get("ReceiveMessage") ?? 0;
      backend.proxy.setFaults([{ match: (op) => op.name === "ReceiveMessage", action }]);
      const windowStart = Date.now();
      const notReady = await waitFor(async () => {
        const r = await getJson(`${svc.base}/ready`);
        return r.status === 503 ? r : undefined;
      }, 15_000);
      expect(notReady.body.reason).toBe(`SQS receive failing: ${reason}`);
      // Long polls already open when the outage began return normally within WAIT_TIME_SECONDS; sent after that,
      // these messages can only be received once the outage is over.
      await sleep(1200);
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 25 }, (_, j) => `outage ${i} message ${j}`));
      await sleep(Math.max(0, WINDOW_MS - (Date.now() - windowStart)));

      const live = await getJson(`${svc.base}/health`);
      expect(live.status).toBe(200);
      expect(live.body.status).toBe("healthy");
      expect((await getJson(`${svc.base}/ready`)).status).toBe(503);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "receive", reason })).toBeGreaterThan(0);
      expect(await metricValue(svc.base, "sqs_archiver_receive_requests_total", { result: "error" })).toBeGreaterThan(0);
      expect(await metricValue(svc.base, "sqs_archiver_poll_backoffs_total", { reason: "sqs_errors" })).toBeGreaterThan(0);
      // Bounded: with back-off, 2 loops make a few dozen HTTP attempts (SDK retries included) in 3 s, not hundreds.
      const attempts = (backend.proxy.counts.get("ReceiveMessage") ?? 0) - receivesBefore;
      expect(attempts).toBeGreaterThan(2);
      expect(attempts).toBeLessThan(40);
      // Logged once and then every tenth failure, not once per attempt.
      expect(svc.logs.events("receive_failed").length).toBeLessThanOrEqual(1 + Math.floor(attempts / 10));
      expect(await backend.listKeys(BUCKET, prefix)).toEqual([]);

      backend.proxy.clearFaults();
      await waitFor(async () => (await getJson(`${svc.base}/ready`)).status === 200, 30_000, 100);
      await waitForKeys(backend, BUCKET, prefix, sent.size, 30_000);
      await waitForDrained(backend, queueUrl);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
      expect(svc.logs.events("receive_recovered").length).toBeGreaterThan(0);
      expect((await getJson(`${svc.base}/health`)).status).toBe(200);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 60_000);

  it("a failing visibility heartbeat is counted and logged, and the message is still archived exactly once", async () => {
    const prefix = "heartbeat/";
    const queueUrl = await backend.createQueue("sqs-faults-heartbeat");
    // Writes take longer than a heartbeat interval; every ChangeMessageVisibilityBatch fails.
    backend.proxy.setLatency({ PutObject: 1500 });
    backend.proxy.setFaults([{ match: (op) => op.name === "ChangeMessageVisibilityBatch", action: { kind: "status", status: 500, code: "InternalError" } }]);
    const svc = await startService(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: prefix,
      CONCURRENCY: "1",
      VISIBILITY_TIMEOUT_SECONDS: "3",
      LOG_LEVEL: "info",
    });
    try {
      const sent = await sendAll(backend, queueUrl, ["slow write 1", "slow write 2"]);
      await waitForKeys(backend, BUCKET, prefix, 2);
      await waitForDrained(backend, queueUrl);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "visibility" })).toBeGreaterThan(0);
      const logged = svc.logs.events("heartbeat_failed");
      expect(logged.length).toBeGreaterThan(0);
      expect(logged[0]?.messageIds).toEqual(expect.arrayContaining([...sent.keys()].slice(0, 1)));
      expect((await getJson(`${svc.base}/health`)).status).toBe(200);
    } finally {
      backend.proxy.clearFaults();
      backend.proxy.setLatency({});
      await svc.stop();
    }
  }, 30_000);
});
