import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson, metricValue, startBackend, startService, waitFor, type Backend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, sleep, waitForDrained } from "../support/reliability.js";

/**
 * A destination that cannot take writes (bucket missing, writes denied) and a source queue that does not exist:
 * a clear reason on /ready and in the metrics, liveness stays healthy (no crash loop), messages are left untouched in
 * the queue, the loops back off, and once the operator fixes the problem the service carries on by itself.
 */
describe("bad destination or source", () => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend();
  });
  afterAll(async () => {
    await backend?.close();
  });

  const outage = [
    { name: "bucket does not exist", bucket: "missing-bucket", reason: "bucket_not_found", deny: false },
    { name: "bucket denies writes", bucket: "denied-bucket", reason: "access_denied", deny: true },
  ];

  it.each(outage)("$name: not ready with the reason, messages untouched, no crash; recovers when fixed", async ({ bucket, reason, deny }) => {
    const queueUrl = await backend.createQueue(`q-${bucket}`);
    if (deny) {
      backend.createBucket(bucket);
      backend.proxy.setFaults([{ match: (op) => op.name === "PutObject", action: { kind: "status", status: 403, code: "AccessDenied", message: "Access Denied" } }]);
    }
    const deletesBefore = backend.proxy.counts.get("DeleteMessageBatch") ?? 0;
    const putsBefore = backend.proxy.counts.get("PutObject") ?? 0;
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: bucket, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "2", LOG_LEVEL: "info" });
    try {
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 15 }, (_, i) => `kept ${i}`));
      const notReady = await waitFor(async () => {
        const r = await getJson(`${svc.base}/ready`);
        return r.status === 503 && String(r.body.reason).includes(reason) ? r : undefined;
      }, 15_000);
      expect(notReady.body.reason).toBe(`S3 writes failing: ${reason}`);
      await sleep(4000);

      expect((await getJson(`${svc.base}/health`)).status).toBe(200);
      expect((await getJson(`${svc.base}/ready`)).status).toBe(503);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "archive", reason })).toBeGreaterThan(0);
      expect(await metricValue(svc.base, "sqs_archiver_ready")).toBe(0);
      expect(await metricValue(svc.base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })).toBeGreaterThan(0);
      // Untouched: nothing deleted, every message still in the queue.
      expect((backend.proxy.counts.get("DeleteMessageBatch") ?? 0) - deletesBefore).toBe(0);
      const depth = await backend.queueDepth(queueUrl);
      expect(depth.visible + depth.inFlight).toBe(sent.size);
      // Not a hot loop: the whole batch failing slows receiving down (a few deliveries of 15 messages in ~5 s).
      expect((backend.proxy.counts.get("PutObject") ?? 0) - putsBefore).toBeLessThan(sent.size * 4 * 4);
      const failed = svc.logs.events("archive_failed");
      expect(failed.length).toBeGreaterThan(0);
      expect(failed[0]).toMatchObject({ reason });
      // The start-up check names a missing bucket as such (HeadBucket's 404 has no body to classify).
      if (!deny) expect(svc.logs.events("bucket_check_failed")[0]).toMatchObject({ level: "error", reason: "bucket_not_found", bucket });

      // The operator fixes it.
      if (deny) backend.proxy.clearFaults();
      else backend.createBucket(bucket);
      await waitForDrained(backend, queueUrl, 40_000);
      await expectExactlyOnce(backend, bucket, "sqs-messages/", sent);
      await waitFor(async () => (await getJson(`${svc.base}/ready`)).status === 200, 5_000);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 60_000);

  it("queue does not exist: not ready with the reason, live, backs off, picks the queue up once it is created", async () => {
    backend.createBucket("late-queue-bucket");
    const existing = await backend.createQueue("some-queue");
    const queueUrl = existing.replace(/some-queue$/, "created-later");
    const receivesBefore = backend.proxy.counts.get("ReceiveMessage") ?? 0;
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: "late-queue-bucket", CONCURRENCY: "2", LOG_LEVEL: "info" });
    try {
      const notReady = await waitFor(async () => {
        const r = await getJson(`${svc.base}/ready`);
        return r.status === 503 && String(r.body.reason).startsWith("SQS receive failing") ? r : undefined;
      }, 10_000);
      expect(notReady.body.reason).toBe("SQS receive failing: queue_not_found");
      await sleep(3000);
      expect((await getJson(`${svc.base}/health`)).status).toBe(200);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "receive", reason: "queue_not_found" })).toBeGreaterThan(0);
      expect(svc.logs.events("queue_check_failed")[0]).toMatchObject({ reason: "queue_not_found" });
      expect((backend.proxy.counts.get("ReceiveMessage") ?? 0) - receivesBefore).toBeLessThan(40);

      expect(await backend.createQueue("created-later")).toBe(queueUrl);
      const sent = await sendAll(backend, queueUrl, ["first message of a late queue"]);
      await waitForDrained(backend, queueUrl, 40_000);
      await expectExactlyOnce(backend, "late-queue-bucket", "sqs-messages/", sent);
      await waitFor(async () => (await getJson(`${svc.base}/ready`)).status === 200, 5_000);
    } finally {
      await svc.stop();
    }
  }, 60_000);
});
