import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, startService, waitFor, metricValue, type Backend, type RunningService } from "../support/harness.js";

const BUCKET = "hb-bucket";

describe("visibility heartbeat on slow writes", () => {
  let backend: Backend;
  let svc: RunningService;
  let queueUrl: string;

  beforeAll(async () => {
    // Writes take 5 s; the visibility timeout is 3 s (renewed every second): only the heartbeat keeps them invisible.
    backend = await startBackend({ latencyMs: { PutObject: 5_000 } });
    backend.createBucket(BUCKET);
    queueUrl = await backend.createQueue("hb-q");
    svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "3" });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
  });

  it("keeps slow messages invisible so each is archived once, by one writer", async () => {
    const ids = await backend.sendMany(queueUrl, ["slow 1", "slow 2", "slow 3"]);
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === 3, 30_000);
    const keys = await backend.listKeys(BUCKET);
    expect(keys).toHaveLength(3);
    for (const id of ids) {
      const env = JSON.parse(await backend.getText(BUCKET, keys.find((k) => k.includes(id)) as string)) as Record<string, any>;
      expect(env.attributes.ApproximateReceiveCount).toBe("1");
    }
    // Exactly one write per message: no second delivery raced the first.
    expect(backend.proxy.counts.get("PutObject")).toBe(3);
    expect(backend.proxy.preconditionFailures).toBe(0);
    expect(backend.proxy.counts.get("ChangeMessageVisibilityBatch") ?? 0).toBeGreaterThanOrEqual(3);
    const hb = backend.proxy.sqsRequests.filter((r) => r.op === "ChangeMessageVisibilityBatch");
    for (const r of hb) {
      for (const e of r.body.Entries as Array<{ VisibilityTimeout: number }>) expect(e.VisibilityTimeout).toBe(3);
    }
    expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
    expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "visibility" })).toBe(0);
    const d = await backend.queueDepth(queueUrl);
    expect(d.visible + d.inFlight).toBe(0);
  });
});
