import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startBackend, startService, type Backend } from "../support/harness.js";
import { countPutsPerKey, expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * S3 writes slower than the visibility timeout. With a working heartbeat the messages stay invisible: received once,
 * written once, no ReceiptHandleIsInvalid loops. With a failing heartbeat the messages reappear while still being
 * written; the redelivery waits for the running write instead of writing in parallel, so each key is still PUT once.
 */
const BUCKET = "slow-s3";

describe("slow S3 writes", () => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend({ latencyMs: { PutObject: 4500 } });
    backend.createBucket(BUCKET);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("writes longer than the visibility timeout: the heartbeat keeps messages invisible, one receive and one PUT each", async () => {
    const prefix = "heartbeat/";
    const queueUrl = await backend.createQueue("slow-heartbeat");
    const puts = new Map<string, number>();
    backend.proxy.setFaults([countPutsPerKey(puts)]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "3", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 25 }, (_, i) => `slow ${i}`));
      await waitForDrained(backend, queueUrl, 30_000);
      const archive = await expectExactlyOnce(backend, BUCKET, prefix, sent);
      for (const [id, env] of archive) expect(env.attributes.ApproximateReceiveCount, id).toBe("1");
      expect([...puts.values()].every((n) => n === 1)).toBe(true);
      expect(puts.size).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "visibility" })).toBe(0);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete" })).toBe(0);
      expect(backend.proxy.counts.get("ChangeMessageVisibilityBatch") ?? 0).toBeGreaterThan(0);
      expect(svc.logs.events("heartbeat_failed")).toEqual([]);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  });

  it("heartbeat failing: a redelivery during the slow write waits for it; no parallel double write", async () => {
    const prefix = "no-heartbeat/";
    const queueUrl = await backend.createQueue("slow-no-heartbeat");
    const puts = new Map<string, number>();
    backend.proxy.setFaults([
      countPutsPerKey(puts),
      { match: (op) => op.name === "ChangeMessageVisibilityBatch", action: { kind: "status", status: 500, code: "InternalError" } },
    ]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "3", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      const sent = await sendAll(backend, queueUrl, ["redelivered while slow 1", "redelivered while slow 2"]);
      await waitForDrained(backend, queueUrl, 30_000);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      // The messages came back (visibility 2 s < write 4.5 s) and were received again by the other loops...
      expect(await metricValue(svc.base, "sqs_archiver_messages_received_total")).toBeGreaterThan(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBeGreaterThan(0);
      expect(svc.logs.events("duplicate_delivery").some((l) => l.concurrent === true)).toBe(true);
      // ...but each key was written by one PUT only.
      expect(puts.size).toBe(sent.size);
      for (const [key, n] of puts) expect(n, key).toBe(1);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  });
});
