import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { getBytes } from "../support/archive-reader.js";
import { perTest, waitFor, metricValue } from "../support/harness.js";

const BUCKET = "options-bucket";

describe("configuration reaches the wire", () => {
  const t = perTest();

  it("sends SSE-KMS, the KMS key, the storage class, If-None-Match and the metadata on every PutObject, under S3_PREFIX", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("options-q");
    const svc = await t.service(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "archive/orders/",
      S3_SSE: "aws:kms",
      S3_KMS_KEY_ID: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      S3_STORAGE_CLASS: "STANDARD_IA",
      MAX_MESSAGES_PER_POLL: "3",
      VISIBILITY_TIMEOUT_SECONDS: "45",
    });
    const ids = await backend.sendMany(queueUrl, ["a", "b", "c", "d", "e"]);
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === ids.length);

    expect(backend.proxy.s3Writes).toHaveLength(ids.length);
    for (const w of backend.proxy.s3Writes) {
      expect(w.key).toMatch(/^archive\/orders\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f-]+\.json$/);
      expect(w.headers["x-amz-server-side-encryption"]).toBe("aws:kms");
      expect(w.headers["x-amz-server-side-encryption-aws-kms-key-id"]).toBe("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab");
      expect(w.headers["x-amz-storage-class"]).toBe("STANDARD_IA");
      expect(w.headers["if-none-match"]).toBe("*");
      expect(w.headers["content-type"]).toBe("application/json");
      expect(w.headers["x-amz-meta-message-id"]).toMatch(/^[0-9a-f-]+$/);
      expect(w.headers["x-amz-meta-sent-timestamp"]).toMatch(/^\d+$/);
      // Integrity: S3 rejects (BadDigest) a body that does not hash to the Content-MD5 the writer computed.
      const stored = await getBytes(backend, BUCKET, w.key as string);
      expect(w.headers["content-md5"]).toBe(createHash("md5").update(stored).digest("base64"));
    }
    const receives = backend.proxy.sqsRequests.filter((r) => r.op === "ReceiveMessage");
    for (const r of receives) {
      expect(r.body.MaxNumberOfMessages).toBe(3);
      expect(r.body.VisibilityTimeout).toBe(45);
      expect(r.body.WaitTimeSeconds).toBe(1);
    }
  });

  it("sends AES256 with no KMS key and no storage class header for STANDARD", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("options-q2");
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_SSE: "AES256" });
    await backend.send(queueUrl, "x");
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === 1);
    const [w] = backend.proxy.s3Writes;
    expect(w?.headers["x-amz-server-side-encryption"]).toBe("AES256");
    expect(w?.headers["x-amz-server-side-encryption-aws-kms-key-id"]).toBeUndefined();
    expect(w?.headers["x-amz-storage-class"]).toBeUndefined();
  });

  it("pauses POLL_INTERVAL_SECONDS after an empty receive, and not after one that returned messages", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("options-q3");
    // WAIT_TIME_SECONDS=0: short polls return at once, so without the pause one loop would poll continuously.
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", WAIT_TIME_SECONDS: "0", POLL_INTERVAL_SECONDS: "1" });
    await new Promise((r) => setTimeout(r, 3_200));
    const empties = await metricValue(svc.base, "sqs_archiver_receive_requests_total", { result: "empty" });
    expect(empties).toBeGreaterThanOrEqual(3);
    expect(empties).toBeLessThanOrEqual(5);
    // A backlog is drained back to back: 30 messages in 3 receives of 10, without a pause between them.
    await backend.sendMany(queueUrl, Array.from({ length: 30 }, (_, i) => `m${i}`));
    const t0 = Date.now();
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === 30, 10_000);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});
