import { describe, expect, it } from "vitest";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { parseArchiveKey } from "../../src/archive/format.js";
import { byMessageId, headObject, readAllLines } from "../support/archive-reader.js";
import { metricValue, perTest, waitFor } from "../support/harness.js";
import { sendAll, waitForDrained } from "../support/reliability.js";

const BUCKET = "ndjson-archive";

/** Waits until every sent message is in some object and the queue is empty, then returns the lines by id. */
async function drained(backend: Awaited<ReturnType<ReturnType<typeof perTest>["backend"]>>, queueUrl: string, prefix: string, n: number) {
  await waitForDrained(backend, queueUrl, 30_000);
  return waitFor(async () => {
    const lines = await readAllLines(backend, BUCKET, prefix);
    const ids = byMessageId(lines);
    return ids.size >= n ? { lines, ids } : undefined;
  }, 10_000, 200);
}

describe("ARCHIVE_FORMAT=ndjson", () => {
  const t = perTest();

  it("drains a backlog into a few objects: every message in exactly one line, bodies and attributes byte-exact", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("ndjson-backlog");
    const bodies = Array.from({ length: 400 }, (_, i) =>
      i % 7 === 0 ? `line one ${i}\nline two\r\n\ttabbed "quoted" \\ back\u007f\u0085\ufffd <x a="&amp;"/>` : JSON.stringify({ i, text: `héllo wörld ${i}` }),
    );
    const sent = await sendAll(backend, queueUrl, bodies);
    const attrs: Record<string, MessageAttributeValue> = {
      str: { DataType: "String", StringValue: "välue \n with newline" },
      num: { DataType: "Number.int", StringValue: "-42" },
      bin: { DataType: "Binary", BinaryValue: new Uint8Array([0, 255, 10, 13, 34, 92]) },
    };
    const withAttrs = await backend.send(queueUrl, "has attributes", attrs);
    sent.set(withAttrs, "has attributes");

    const svc = await t.service(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "nd/",
      ARCHIVE_FORMAT: "ndjson",
      BATCH_MAX_MESSAGES: "150",
      BATCH_MAX_SECONDS: "2",
      CONCURRENCY: "4",
    });
    const { lines, ids } = await drained(backend, queueUrl, "nd/", sent.size);
    expect(lines).toHaveLength(sent.size);
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [id, body] of sent) {
      const env = (ids.get(id) as Array<{ envelope: Record<string, any> }>)[0]?.envelope as Record<string, any>;
      if (env.body !== body) expect(env.body, id).toBe(body);
      expect(env.schemaVersion).toBe(1);
      expect(env.queueUrl).toBe(queueUrl);
    }
    const envA = (ids.get(withAttrs) as Array<{ envelope: Record<string, any> }>)[0]?.envelope as Record<string, any>;
    expect(envA.messageAttributes).toEqual({
      bin: { DataType: "Binary", BinaryValue: Buffer.from([0, 255, 10, 13, 34, 92]).toString("base64") },
      num: { DataType: "Number.int", StringValue: "-42" },
      str: { DataType: "String", StringValue: "välue \n with newline" },
    });

    // A handful of objects, each in the hour of its first message, with the documented key shape and metadata.
    const keys = [...new Set(lines.map((l) => l.key))];
    expect(keys.length).toBeGreaterThanOrEqual(3);
    expect(keys.length).toBeLessThanOrEqual(12);
    for (const key of keys) {
      const parsed = parseArchiveKey("nd/", key);
      expect(parsed?.layout).toBe("ndjson");
      expect(key).toMatch(/^nd\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{13}-[0-9a-f]{16}\.ndjson\.gz$/);
      const inObject = lines.filter((l) => l.key === key);
      const sentTimes = inObject.map((l) => Number(l.envelope.attributes.SentTimestamp));
      const head = await headObject(backend, BUCKET, key);
      expect(head.ContentType).toBe("application/x-ndjson");
      expect(head.Metadata).toMatchObject({
        "message-count": String(inObject.length),
        "first-sent-timestamp": String(Math.min(...sentTimes)),
        "last-sent-timestamp": String(Math.max(...sentTimes)),
        "schema-version": "1",
      });
      expect(key).toContain(`/${Math.min(...sentTimes)}-`);
    }
    const puts = backend.proxy.s3Writes.filter((w) => w.op === "PutObject");
    expect(puts.length).toBe(keys.length);
    for (const p of puts) expect(p.headers["if-none-match"]).toBe("*");

    expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
    expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(sent.size);
    expect(await metricValue(svc.base, "sqs_archiver_batches_written_total", { outcome: "written" })).toBe(keys.length);
    expect(await metricValue(svc.base, "sqs_archiver_batch_messages_count")).toBe(keys.length);
    expect(await metricValue(svc.base, "sqs_archiver_batch_messages_sum")).toBe(sent.size);
    expect(await metricValue(svc.base, "sqs_archiver_batch_flushes_total", { reason: "count" })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(svc.base, "sqs_archiver_messages_buffered")).toBe(0);
    expect(await metricValue(svc.base, "sqs_archiver_messages_in_flight")).toBe(0);
  });

  it.each(["zstd", "none"] as const)("writes %s objects that decode to the same envelopes", async (compression) => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue(`ndjson-${compression}`);
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 30 }, (_, i) => `body ${i} "q" \n`));
    await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: `${compression}/`, ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: compression, BATCH_MAX_SECONDS: "1" });
    const { ids, lines } = await drained(backend, queueUrl, `${compression}/`, sent.size);
    expect(lines).toHaveLength(sent.size);
    for (const [id, body] of sent) expect(ids.get(id)?.[0]?.envelope.body).toBe(body);
    for (const l of lines) expect(l.key.endsWith(compression === "zstd" ? ".ndjson.zst" : "-" + l.key.split("-").pop())).toBe(true);
    if (compression === "none") for (const l of lines) expect(l.key).toMatch(/[0-9a-f]{16}\.ndjson$/);
  });

  it("flushes a batch BATCH_MAX_SECONDS after it opened, then by BATCH_MAX_BYTES when objects grow", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("ndjson-flush");
    const svc = await t.service(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "age/",
      ARCHIVE_FORMAT: "ndjson",
      ARCHIVE_COMPRESSION: "none",
      BATCH_MAX_SECONDS: "2",
      BATCH_MAX_BYTES: "4096",
    });
    const first = await backend.send(queueUrl, "alone");
    const t0 = Date.now();
    await waitFor(async () => (await backend.listKeys(BUCKET, "age/")).length === 1, 10_000, 100);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(await metricValue(svc.base, "sqs_archiver_batch_flushes_total", { reason: "age" })).toBe(1);

    // 40 messages of ~500 bytes: over 4 KiB uncompressed, so several objects closed for size.
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 40 }, (_, i) => `${i}:${"x".repeat(500)}`));
    const { lines } = await drained(backend, queueUrl, "age/", sent.size + 1);
    expect(byMessageId(lines).has(first)).toBe(true);
    expect(await metricValue(svc.base, "sqs_archiver_batch_flushes_total", { reason: "bytes" })).toBeGreaterThanOrEqual(3);
    for (const key of new Set(lines.map((l) => l.key))) {
      const n = lines.filter((l) => l.key === key).length;
      // 4 KiB of ~560-byte lines: at most 8 lines (the line that crosses the limit is the batch's last).
      expect(n).toBeLessThanOrEqual(8);
    }
  });

  it("SIGTERM-style stop flushes every open batch and deletes its messages before returning", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("ndjson-stop");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 25 }, (_, i) => `stop ${i}`));
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "stop/", ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "300", VISIBILITY_TIMEOUT_SECONDS: "600" });
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_buffered")) === 25, 10_000);
    expect(await backend.listKeys(BUCKET, "stop/")).toEqual([]);
    const res = await svc.stop();
    expect(res.clean).toBe(true);
    const lines = await readAllLines(backend, BUCKET, "stop/");
    expect(lines.map((l) => l.envelope.body).sort()).toEqual([...sent.values()].sort());
    expect(await backend.queueDepth(queueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(svc.logs.events("batch_written").map((l) => l.reason)).toEqual(["shutdown"]);
  });

  it("a delete that fails after a durable write gives at most one counted duplicate line, never a missing message", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("ndjson-delete-fail");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 20 }, (_, i) => `del ${i}`));
    // Every DeleteMessageBatch fails until the first messages are given up on (both tries spent).
    backend.proxy.setFaults([{ match: (op) => op.name === "DeleteMessageBatch", action: { kind: "status", status: 500, code: "InternalError" } }]);
    const svc = await t.service(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "dup/",
      ARCHIVE_FORMAT: "ndjson",
      BATCH_MAX_SECONDS: "1",
      S3_REQUEST_TIMEOUT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "6",
      CONCURRENCY: "1",
    });
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_archived_not_deleted_total")) >= 10, 20_000, 100);
    backend.proxy.clearFaults();
    await waitForDrained(backend, queueUrl, 40_000);
    const notDeleted = await metricValue(svc.base, "sqs_archiver_archived_not_deleted_total");
    expect(notDeleted).toBeGreaterThanOrEqual(1);
    const ids = byMessageId(await readAllLines(backend, BUCKET, "dup/"));
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    const duplicated = [...ids.values()].filter((places) => places.length > 1);
    // A redelivered set identical to a stored batch lands on the same key (412, no second line); any other grouping
    // gives at most one extra line per message whose delete failed.
    const alreadyStored = await metricValue(svc.base, "sqs_archiver_batches_written_total", { outcome: "already_stored" });
    expect(duplicated.length + alreadyStored).toBeGreaterThanOrEqual(1);
    for (const places of duplicated) {
      expect(places).toHaveLength(2);
      expect(new Set(places.map((p) => p.key)).size).toBe(2);
    }
    // Each duplicate line is a message whose delete failed, and each was counted as a redelivery.
    expect(duplicated.length).toBeLessThanOrEqual(notDeleted);
    expect(await metricValue(svc.base, "sqs_archiver_redeliveries_total")).toBe(notDeleted);
  }, 60_000);

  it("an S3 outage holds every message in the queue and backs off receiving; all are archived once it ends", async () => {
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("ndjson-outage");
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject", action: { kind: "status", status: 503, code: "ServiceUnavailable" } }]);
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 30 }, (_, i) => `outage ${i}`));
    const svc = await t.service(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "out/",
      ARCHIVE_FORMAT: "ndjson",
      BATCH_MAX_SECONDS: "1",
      S3_REQUEST_TIMEOUT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "6",
    });
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })) >= 1, 20_000, 200);
    expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(0);
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.visible + depth.inFlight).toBe(sent.size);
    expect(await backend.listKeys(BUCKET, "out/")).toEqual([]);

    backend.proxy.clearFaults();
    const { ids } = await drained(backend, queueUrl, "out/", sent.size);
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const places of ids.values()) expect(places).toHaveLength(1);
  }, 60_000);
});
