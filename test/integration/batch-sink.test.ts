import { describe, expect, it } from "vitest";
import type { Message } from "@aws-sdk/client-sqs";
import { buildEnvelope, md5Hex, serializeEnvelope, validateMessage } from "../../src/archive/envelope.js";
import { createAwsClients } from "../../src/aws/aws-clients.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { BatchSink, MAX_OPEN_HOURS } from "../../src/sinks/batch-sink.js";
import { S3Writer } from "../../src/sinks/s3-writer.js";
import type { SinkOutcome } from "../../src/sinks/sink.js";
import { byMessageId, readAllLines } from "../support/archive-reader.js";
import { LogCapture, REGION, TEST_CREDENTIALS, useBackend } from "../support/harness.js";

/**
 * The ndjson sink on its own against the emulator's S3, fed messages with chosen SentTimestamps (SQS sets them, so
 * the service cannot be made to receive messages from another hour): hour boundaries split batches, the number of
 * open hours is bounded, and a rebuilt identical batch is a 412, not a second object.
 */
const BUCKET = "batch-sink";
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1, 10, 59, 58, 0);

function message(i: number, sent: number): Message {
  const body = `body ${i} "quoted"\n`;
  return {
    MessageId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    ReceiptHandle: `rh-${i}`,
    Body: body,
    MD5OfBody: md5Hex(body),
    Attributes: { SentTimestamp: String(sent), ApproximateReceiveCount: "1" },
  };
}

describe("BatchSink", () => {
  const backend = useBackend(BUCKET);

  function sink(prefix: string, env: Record<string, string> = {}) {
    const config = loadConfig({
      SQS_QUEUE_URL: "http://sqs.us-east-1.localhost/000000000000/q",
      S3_BUCKET_NAME: BUCKET,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: backend.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      S3_PREFIX: prefix,
      ARCHIVE_FORMAT: "ndjson",
      ...env,
    });
    const clients = createAwsClients(config, async () => TEST_CREDENTIALS);
    const metrics = createMetrics("test", process.versions.node);
    const logs = new LogCapture();
    let held = 0;
    const s = new BatchSink({
      config,
      writer: new S3Writer(clients.s3, config),
      metrics,
      log: createLogger("info", logs),
      signal: new AbortController().signal,
      holdBytes: (n) => (held += n),
      releaseBytes: (n) => (held -= n),
    });
    const submit = (m: Message) => {
      const valid = validateMessage(m);
      return s.submit({ valid, json: serializeEnvelope(buildEnvelope(valid, config.queueUrl, new Date())) });
    };
    return { sink: s, submit, metrics, logs, held: () => held, close: () => clients.destroy() };
  }

  it("splits batches at the hour of SentTimestamp: each object holds one hour and lives under that hour", async () => {
    const s = sink("hours/", { BATCH_MAX_SECONDS: "30" });
    const outcomes: Array<Promise<SinkOutcome>> = [];
    // Two messages in 10:59, then three in 11:00: the 11:00 message closes the 10:59 batch (reason "hour").
    outcomes.push(s.submit(message(1, T0)), s.submit(message(2, T0 + 1500)));
    await new Promise((r) => setTimeout(r, 1100)); // older than the boundary grace
    outcomes.push(s.submit(message(3, T0 + 2000)), s.submit(message(4, T0 + 2500)), s.submit(message(5, T0 + 3000)));
    const first = await Promise.all(outcomes.slice(0, 2));
    expect(first.map((o) => o.status)).toEqual(["written", "written"]);
    s.sink.flushAll("shutdown");
    const rest = await Promise.all(outcomes.slice(2));
    expect(rest.every((o) => o.status === "written")).toBe(true);

    const lines = await readAllLines(backend, BUCKET, "hours/");
    const keys = [...new Set(lines.map((l) => l.key))].sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^hours\/2025\/01\/01\/10\/1735729198000-[0-9a-f]{16}\.ndjson\.gz$/);
    expect(keys[1]).toMatch(/^hours\/2025\/01\/01\/11\/1735729200000-[0-9a-f]{16}\.ndjson\.gz$/);
    for (const l of lines) {
      const hour = new Date(Number(l.envelope.attributes.SentTimestamp)).getUTCHours();
      expect(l.key).toContain(`/${String(hour).padStart(2, "0")}/`);
    }
    expect(await s.metrics.batchFlushes.get()).toMatchObject({
      values: expect.arrayContaining([expect.objectContaining({ labels: { reason: "hour" }, value: 1 }), expect.objectContaining({ labels: { reason: "shutdown" }, value: 1 })]),
    });
    expect(s.held()).toBe(0);
    s.close();
  });

  it(`keeps at most ${MAX_OPEN_HOURS} hours open: a backlog spread over many hours flushes the oldest first`, async () => {
    const s = sink("spread/", { BATCH_MAX_SECONDS: "30" });
    const outcomes: Array<Promise<SinkOutcome>> = [];
    // Newest hour first, so no message closes an older hour by arriving after it... except the cap.
    for (let h = 7; h >= 0; h--) outcomes.push(s.submit(message(100 + h, T0 + h * HOUR)));
    expect(s.sink.openBatches).toBeLessThanOrEqual(MAX_OPEN_HOURS);
    s.sink.flushAll("shutdown");
    const all = await Promise.all(outcomes);
    expect(all.every((o) => o.status === "written")).toBe(true);
    const ids = byMessageId(await readAllLines(backend, BUCKET, "spread/"));
    expect(ids.size).toBe(8);
    s.close();
  });

  it("a batch rebuilt from the same messages lands on the same key and is answered 412, not stored twice", async () => {
    const a = sink("same/");
    const b = sink("same/");
    const msgs = [message(200, T0), message(201, T0 + 1), message(202, T0 + 2)];
    const first = msgs.map((m) => a.submit(m));
    a.sink.flushAll("shutdown");
    const o1 = await Promise.all(first);
    // A second writer (a redelivery after a lost delete, to the same process or another) with the same set, reordered.
    const second = [...msgs].reverse().map((m) => b.submit(m));
    b.sink.flushAll("shutdown");
    const o2 = await Promise.all(second);
    expect(o1.map((o) => o.status)).toEqual(["written", "written", "written"]);
    expect(o2.map((o) => o.status)).toEqual(["already_stored", "already_stored", "already_stored"]);
    expect(o2[0]).toMatchObject({ key: (o1[0] as { key: string }).key });
    expect(await backend.listKeys(BUCKET, "same/")).toHaveLength(1);
    expect(b.logs.events("batch_already_stored")).toHaveLength(1);
    a.close();
    b.close();
  });

  it("a failed write fails every message of the batch and releases its bytes; nothing is written", async () => {
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject" && (op.key ?? "").startsWith("fail/"), action: { kind: "status", status: 403, code: "AccessDenied" } }]);
    try {
      const s = sink("fail/");
      const outs = [s.submit(message(300, T0)), s.submit(message(301, T0 + 5))];
      s.sink.flushAll("shutdown");
      const res = await Promise.all(outs);
      for (const o of res) expect(o).toMatchObject({ status: "failed", reason: "access_denied", sinkFatal: true, aborted: false });
      expect(s.held()).toBe(0);
      expect(await backend.listKeys(BUCKET, "fail/")).toEqual([]);
      s.close();
    } finally {
      backend.proxy.clearFaults();
    }
  });
});
