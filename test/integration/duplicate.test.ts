import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { buildKey } from "../../src/archive/key.js";
import { perTest, waitFor, metricValue } from "../support/harness.js";

const BUCKET = "dup-bucket";

describe("write-once archives (If-None-Match: *)", () => {
  const t = perTest();

  it("a redelivery after a failed delete is detected as a duplicate, deleted, and the archive is not rewritten", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("dup-q");
    const id = await backend.send(queueUrl, "only once please");
    // Every delete attempt fails (3 SDK attempts x 2 tries), so the message comes back after its visibility timeout.
    backend.proxy.setFaults([
      { match: (op) => op.name === "DeleteMessageBatch", action: { kind: "status", status: 500, code: "InternalError" }, times: 6 },
    ]);
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "2" });

    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")) === 1, 20_000);
    await waitFor(async () => {
      const d = await backend.queueDepth(queueUrl);
      return d.visible === 0 && d.inFlight === 0;
    });
    const keys = await backend.listKeys(BUCKET);
    expect(keys).toHaveLength(1);
    const env = JSON.parse(await backend.getText(BUCKET, keys[0] as string)) as Record<string, any>;
    expect(env.messageId).toBe(id);
    expect(env.body).toBe("only once please");
    // The stored archive is the first delivery's: the second write was refused, not applied.
    expect(env.attributes.ApproximateReceiveCount).toBe("1");
    expect(backend.proxy.preconditionFailures).toBe(1);
    expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(1);
    expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete" })).toBeGreaterThan(0);
    expect(svc.logs.events("duplicate_delivery").map((l) => l.messageId)).toEqual([id]);
  });

  it("never overwrites an existing archive object", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("dup-q2");
    const id = await backend.send(queueUrl, "new content");
    const sent = Number(backend.fauxqs.inspectQueue("dup-q2")?.messages.ready[0]?.sentTimestamp);
    expect(Number.isFinite(sent)).toBe(true);
    const key = buildKey("sqs-messages/", id, sent);
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "archived earlier" }));

    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1" });
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")) === 1);
    await waitFor(async () => (await backend.queueDepth(queueUrl)).inFlight === 0);
    expect(await backend.getText(BUCKET, key)).toBe("archived earlier");
    expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(1);
    expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(0);
  });
});
