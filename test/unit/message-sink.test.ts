import { hash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { md5Hex, validateMessage } from "../../src/archive/envelope.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { MessageSink } from "../../src/sinks/message-sink.js";
import { S3Writer } from "../../src/sinks/s3-writer.js";
import type { SinkItem } from "../../src/sinks/sink.js";
import { LogCapture } from "../support/harness.js";

/**
 * MessageSink with the real S3Writer over a stubbed S3 client (bbc/sqs-consumer's test style): `send` records every
 * command and answers from a script of results or thrown errors, so each S3 answer maps to one outcome.
 */
type Step = { ok: Record<string, unknown> } | { error: Record<string, unknown> };

class FakeS3 {
  readonly calls: Array<{ name: string; input: Record<string, unknown> }> = [];
  constructor(private readonly steps: Step[]) {}
  readonly send = async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
    this.calls.push({ name: command.constructor.name, input: command.input });
    const step = this.steps.shift();
    if (!step) throw new Error(`unscripted ${command.constructor.name}`);
    if ("error" in step) throw Object.assign(new Error(String(step.error.name)), step.error);
    return { $metadata: { httpStatusCode: 200, attempts: 1 }, ...step.ok };
  };
  names(): string[] {
    return this.calls.map((c) => c.name);
  }
}

const ID = "00000000-0000-4000-8000-000000000001";
const SENT = Date.UTC(2025, 0, 1, 10, 30);

function item(): SinkItem {
  const body = "hello";
  const valid = validateMessage({ MessageId: ID, ReceiptHandle: "rh", Body: body, MD5OfBody: md5Hex(body), Attributes: { SentTimestamp: String(SENT) } });
  return { valid, json: JSON.stringify({ id: ID, body }) };
}

function sink(steps: Step[]) {
  const config = loadConfig({ SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/q", S3_BUCKET_NAME: "unit-bucket", AWS_REGION: "us-east-1" });
  const s3 = new FakeS3(steps);
  const metrics = createMetrics("test", process.versions.node);
  const s = new MessageSink({
    config,
    writer: new S3Writer(s3 as unknown as S3Client, config),
    metrics,
    log: createLogger("info", new LogCapture()),
    signal: new AbortController().signal,
  });
  return { s, s3, metrics };
}

const err = (name: string, status: number | undefined, extra: Record<string, unknown> = {}) => ({
  error: { name, $metadata: { ...(status ? { httpStatusCode: status } : {}), attempts: 1 }, ...extra },
});

describe("MessageSink outcomes", () => {
  it("200 → written, with a write-once PutObject under the message's key", async () => {
    const { s, s3 } = sink([{ ok: {} }]);
    const o = await s.submit(item());
    expect(o).toMatchObject({ status: "written" });
    expect(s3.names()).toEqual([PutObjectCommand.name]);
    const put = s3.calls[0]?.input ?? {};
    expect(put.IfNoneMatch).toBe("*");
    expect(put.Bucket).toBe("unit-bucket");
    expect(String(put.Key)).toContain(ID);
    expect(o.status === "written" && o.key).toBe(put.Key);
    expect(s.pending).toBe(0);
  });

  it("412 → already_stored (an earlier delivery wrote it)", async () => {
    const { s } = sink([err("PreconditionFailed", 412)]);
    expect(await s.submit(item())).toMatchObject({ status: "already_stored" });
  });

  it("409 ConditionalRequestConflict is retried, then resolves as the retry answers", async () => {
    const { s, s3 } = sink([err("ConditionalRequestConflict", 409), { ok: {} }]);
    expect(await s.submit(item())).toMatchObject({ status: "written" });
    expect(s3.names()).toEqual([PutObjectCommand.name, PutObjectCommand.name]);
  });

  it("a thrown error → failed outcome with its reason, not durable", async () => {
    const { s, s3 } = sink([err("AccessDenied", 403)]);
    const o = await s.submit(item());
    expect(o).toMatchObject({ status: "failed", reason: "access_denied", aborted: false });
    expect(o.status === "failed" && o.error?.message).toBeTruthy();
    // The stub bypasses the SDK's per-attempt middleware, so the writer may ask S3 about the outcome; it finds nothing.
    expect(s3.names()[0]).toBe(PutObjectCommand.name);
  });

  it("an unknown outcome (no response) is checked with HeadObject: stored with our bytes → written", async () => {
    const steps: Step[] = [err("TimeoutError", undefined, { code: "ETIMEDOUT" })];
    const { s, s3, metrics } = sink(steps);
    const json = item().json;
    const etag = `"${hash("md5", Buffer.from(json, "utf8"), "hex")}"`;
    steps.push({ ok: { ContentLength: Buffer.byteLength(json), ETag: etag } });
    expect(await s.submit(item())).toMatchObject({ status: "written" });
    expect(s3.names()).toEqual([PutObjectCommand.name, HeadObjectCommand.name]);
    expect(await metrics.registry.getSingleMetricAsString("sqs_archiver_write_outcome_checks_total")).toMatch(/result="stored"} 1/);
  });

  it("an unknown outcome whose HeadObject finds nothing (404) → failed, left for redelivery", async () => {
    const { s, s3 } = sink([err("TimeoutError", undefined, { code: "ETIMEDOUT" }), err("NotFound", 404)]);
    expect(await s.submit(item())).toMatchObject({ status: "failed", reason: "timeout" });
    expect(s3.names()).toEqual([PutObjectCommand.name, HeadObjectCommand.name]);
  });
});
