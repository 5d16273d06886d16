import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../src/config.js";
import { S3Writer } from "../../src/sinks/s3-writer.js";
import { metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { countPutsPerKey, expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * Issue 8 #7: the first PutObject attempt stores the object, its response is lost (connection reset on the way back),
 * the SDK retries and S3 answers 412 because the key now exists. Before: counted and logged as a duplicate delivery
 * ("already archived by an earlier delivery"), messages_archived_total 0. Now: an archive, because an earlier attempt
 * of the same call may have stored it; a 412 after attempts that were all definite rejections (503 SlowDown) is still
 * a duplicate delivery.
 */
const BUCKET = "lost-put-response";

describe("PutObject whose response was lost, retried by the SDK into a 412", () => {
  const backend = useBackend(BUCKET);

  it("is counted and logged as archived, not as a duplicate delivery", async () => {
    const queueUrl = await backend.createQueue("lost-put-q");
    const puts = new Map<string, number>();
    // Every message's first PutObject reaches the bucket and then loses its response.
    const lostOnce = new Set<string>();
    backend.proxy.setFaults([
      countPutsPerKey(puts),
      {
        match: (op) => {
          if (op.name !== "PutObject" || !op.key || lostOnce.has(op.key)) return false;
          lostOnce.add(op.key);
          return true;
        },
        action: { kind: "reset-after-forward" },
      },
    ]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", LOG_LEVEL: "debug" });
    try {
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 5 }, (_, i) => `response lost ${i}`));
      await waitForDrained(backend, queueUrl, 20_000);
      await expectExactlyOnce(backend, BUCKET, "sqs-messages/", sent);
      await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_deleted_total")) === sent.size, 5_000);
      // Each key was PUT twice: the attempt whose answer was lost, and the SDK's retry that got 412.
      for (const [key, n] of puts) expect(n, key).toBe(2);
      expect(backend.proxy.preconditionFailures).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
      expect(await metricValue(svc.base, "sqs_archiver_s3_retries_total")).toBe(sent.size);
      expect(svc.logs.events("duplicate_delivery")).toEqual([]);
      expect(svc.logs.raw.filter((l) => l.includes("already archived by an earlier delivery"))).toEqual([]);
      expect(svc.logs.events("archived").length).toBe(sent.size);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 30_000);
});

/**
 * The writer on its own against a scripted S3: what each attempt of one PutObject gets decides whether a final 412
 * is ours (an earlier attempt may have stored the object) or an earlier delivery's.
 */
describe("S3Writer: a 412 after retries", () => {
  type Step = "reset" | "store-then-reset" | 500 | 503 | 412 | 200;
  let script: Step[] = [];
  let server: http.Server;
  let s3: S3Client;
  let writer: S3Writer;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const step = script.shift() ?? 200;
        if (step === "reset" || step === "store-then-reset") {
          req.socket.destroy();
          return;
        }
        const code = step === 500 ? "InternalError" : step === 503 ? "SlowDown" : "PreconditionFailed";
        if (step === 200) {
          res.writeHead(200, { etag: '"x"' });
          res.end();
          return;
        }
        res.writeHead(step, { "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>scripted</Message><RequestId>r</RequestId></Error>`);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, maxAttempts: 4 });
    const config = loadConfig({ SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "bucket" });
    writer = new S3Writer(s3, config);
  });
  afterAll(async () => {
    s3?.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it.each([
    [["store-then-reset", 412], "archived", true],
    [["reset", "reset", 412], "archived", true],
    [[500, 412], "archived", true],
    [[503, 412], "duplicate", false],
    [[412], "duplicate", false],
    [[503, 200], "archived", false],
  ] as Array<[Step[], string, boolean]>)("%j -> %s", async (steps, outcome, lost) => {
    script = [...steps];
    const res = await writer.write("k/1.json", "{}", {});
    expect(res.outcome).toBe(outcome);
    expect(res.attempts).toBe(steps.length);
    expect(res.outcome === "archived" && res.retriedAfterLostResponse === true).toBe(lost);
  });
});
