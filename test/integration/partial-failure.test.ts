import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, startService, waitFor, metricValue, type Backend, type RunningService } from "../support/harness.js";

const BUCKET = "partial-bucket";

describe("a batch is acknowledged per message", () => {
  let backend: Backend;
  let svc: RunningService;
  let queueUrl: string;
  let ids: string[];
  let failing: string[];

  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket(BUCKET);
    queueUrl = await backend.createQueue("partial-q");
    ids = await backend.sendMany(queueUrl, Array.from({ length: 10 }, (_, i) => `message ${i}`));
    failing = [ids[1], ids[4], ids[7]] as string[];
    backend.proxy.setFaults([
      { match: (op) => op.name === "PutObject" && failing.some((id) => op.key?.includes(id)), action: { kind: "status", status: 500, code: "InternalError" } },
    ]);
    svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "4" });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
  });

  it("archives and deletes the others; the failed ones are not deleted", async () => {
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === 7);
    const keys = await backend.listKeys(BUCKET);
    expect(keys).toHaveLength(7);
    for (const id of failing) expect(keys.some((k) => k.includes(id))).toBe(false);
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.visible + depth.inFlight).toBe(3);
    expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "archive", reason: "server_error" })).toBeGreaterThanOrEqual(3);
    const failedLogs = svc.logs.events("archive_failed").map((l) => l.messageId);
    expect(new Set(failedLogs)).toEqual(new Set(failing));
  });

  it("archives the failed ones when they come back after their visibility timeout", async () => {
    backend.proxy.clearFaults();
    await waitFor(async () => (await backend.listKeys(BUCKET)).length === 10, 30_000);
    await waitFor(async () => {
      const d = await backend.queueDepth(queueUrl);
      return d.visible === 0 && d.inFlight === 0;
    });
    for (const [i, id] of ids.entries()) {
      const key = (await backend.listKeys(BUCKET)).find((k) => k.includes(id)) as string;
      const env = JSON.parse(await backend.getText(BUCKET, key)) as Record<string, any>;
      expect(env.body).toBe(`message ${i}`);
      expect(Number(env.attributes.ApproximateReceiveCount)).toBe(failing.includes(id) ? 2 : 1);
    }
    expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
  });
});
