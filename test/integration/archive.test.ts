import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, startService, waitFor, getJson, metricValue, type Backend, type RunningService } from "../support/harness.js";
import { buildKey } from "../../src/archive/key.js";

const BUCKET = "archive-bucket";

describe("archiving against the emulator over HTTP", () => {
  let backend: Backend;
  let queueUrl: string;
  let svc: RunningService;

  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket(BUCKET);
    queueUrl = await backend.createQueue("archive-q");
    svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "4", S3_PREFIX: "arch/" });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
  });

  it("archives N messages as N objects with the exact bodies at SentTimestamp keys, and empties the queue", async () => {
    const bodies = Array.from({ length: 250 }, (_, i) =>
      i % 5 === 0 ? `plain text ${i} <xml attr="&amp;">` : JSON.stringify({ i, text: `héllo wörld ${i}`, nested: { a: [1, 2, 3] } }),
    );
    const ids = await backend.sendMany(queueUrl, bodies);
    const keys = await waitFor(async () => {
      const k = await backend.listKeys(BUCKET, "arch/");
      return k.length >= ids.length ? k : undefined;
    }, 30_000);
    expect(keys).toHaveLength(ids.length);

    for (const [i, id] of ids.entries()) {
      const key = keys.find((k) => k.endsWith(`/${id}.json`));
      expect(key, `archive for ${id}`).toBeDefined();
      const env = JSON.parse(await backend.getText(BUCKET, key as string)) as Record<string, any>;
      expect(env.body).toBe(bodies[i]);
      expect(env.messageId).toBe(id);
      expect(env.schemaVersion).toBe(1);
      expect(env.queueUrl).toBe(queueUrl);
      expect(key).toBe(buildKey("arch/", id, Number(env.attributes.SentTimestamp)));
      expect(env.attributes.ApproximateReceiveCount).toBe("1");
    }
    await waitFor(async () => {
      const d = await backend.queueDepth(queueUrl);
      return d.visible === 0 && d.inFlight === 0;
    });
    expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(ids.length);
    expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(ids.length);
    expect(await metricValue(svc.base, "sqs_archiver_messages_in_flight")).toBe(0);
    const health = await getJson(`${svc.base}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("healthy");
    expect(health.body.messages_processed).toBe(ids.length);
  });

  it("asks SQS for every attribute explicitly (AWS returns none unless asked)", () => {
    const receives = backend.proxy.sqsRequests.filter((r) => r.op === "ReceiveMessage");
    expect(receives.length).toBeGreaterThan(0);
    for (const r of receives) {
      expect(r.body.MessageAttributeNames).toEqual(["All"]);
      expect(r.body.MessageSystemAttributeNames).toEqual(["All"]);
      expect(r.body.MaxNumberOfMessages).toBe(10);
      expect(r.body.VisibilityTimeout).toBe(60);
    }
    const deletes = backend.proxy.sqsRequests.filter((r) => r.op === "DeleteMessageBatch");
    expect(deletes.length).toBeGreaterThan(0);
    // Archives are written with If-None-Match; objects were never overwritten.
    expect(backend.proxy.counts.get("PutObject")).toBe(250);
  });

  it("preserves String, Number and Binary message attributes and the S3 object metadata", async () => {
    const bytes = Buffer.from([0, 1, 2, 254, 255, 0x80, 0x7f]);
    const id = await backend.send(queueUrl, "with attributes", {
      s: { DataType: "String", StringValue: "välue ✓" },
      n: { DataType: "Number", StringValue: "-12.5e3" },
      b: { DataType: "Binary", BinaryValue: bytes },
      custom: { DataType: "String.custom-type", StringValue: "x" },
    });
    const key = await waitFor(async () => (await backend.listKeys(BUCKET, "arch/")).find((k) => k.includes(id)));
    const env = JSON.parse(await backend.getText(BUCKET, key)) as Record<string, any>;
    expect(env.messageAttributes.s).toEqual({ DataType: "String", StringValue: "välue ✓" });
    expect(env.messageAttributes.n).toEqual({ DataType: "Number", StringValue: "-12.5e3" });
    expect(Buffer.from(env.messageAttributes.b.BinaryValue, "base64").equals(bytes)).toBe(true);
    expect(env.messageAttributes.b.DataType).toBe("Binary");
    expect(env.messageAttributes.custom.DataType).toBe("String.custom-type");
    expect(typeof env.md5OfMessageAttributes).toBe("string");
    const head = await backend.s3.send(new (await import("@aws-sdk/client-s3")).HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentType).toBe("application/json");
    expect(head.Metadata?.["message-id"]).toBe(id);
    expect(head.Metadata?.["sent-timestamp"]).toBe(env.attributes.SentTimestamp);
  });
});

describe("FIFO queues", () => {
  it("keeps MessageGroupId, MessageDeduplicationId and SequenceNumber in the envelope", async () => {
    const backend = await startBackend();
    try {
      backend.createBucket(BUCKET);
      const queueUrl = await backend.createQueue("orders.fifo", { FifoQueue: "true" });
      expect(queueUrl.endsWith(".fifo")).toBe(true);
      const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2" });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) {
          ids.push(await backend.send(queueUrl, `order ${i}`, undefined, { MessageGroupId: `g${i % 2}`, MessageDeduplicationId: `d${i}` }));
        }
        const keys = await waitFor(async () => {
          const k = await backend.listKeys(BUCKET);
          return k.length === ids.length ? k : undefined;
        });
        for (const [i, id] of ids.entries()) {
          const env = JSON.parse(await backend.getText(BUCKET, keys.find((k) => k.includes(id)) as string)) as Record<string, any>;
          expect(env.body).toBe(`order ${i}`);
          expect(env.attributes.MessageGroupId).toBe(`g${i % 2}`);
          expect(env.attributes.MessageDeduplicationId).toBe(`d${i}`);
          expect(env.attributes.SequenceNumber).toMatch(/^\d+$/);
        }
      } finally {
        await svc.stop();
      }
    } finally {
      await backend.close();
    }
  });
});
