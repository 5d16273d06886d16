import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../src/config.js";
import { ArchiveWriteError } from "../../src/errors.js";
import { S3Writer, type OutcomeCheck } from "../../src/sinks/s3-writer.js";

/**
 * A persistent 409 ConditionalRequestConflict (another writer keeps racing on the key): the writer retries the
 * conditional PUT a bounded number of times and then asks S3 whether the object exists before reporting a failure.
 * The racing writer's object at that key holds the same message(s): durable, never a second copy under another key.
 */
describe("S3Writer: a 409 ConditionalRequestConflict that persists", () => {
  let server: http.Server;
  let s3: S3Client;
  let writer: S3Writer;
  let head: { status: number; length?: number; etag?: string } = { status: 404 };
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push(req.method ?? "?");
        if (req.method === "HEAD") {
          res.writeHead(head.status, head.status === 200 ? { "content-length": String(head.length), etag: head.etag ?? '"x"' } : {});
          res.end();
          return;
        }
        res.writeHead(409, { "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ConditionalRequestConflict</Code><Message>conflict</Message><RequestId>r</RequestId></Error>`);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, maxAttempts: 4 });
    writer = new S3Writer(s3, loadConfig({ SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "bucket" }));
  });
  afterAll(async () => {
    s3?.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("is retried a bounded number of times, then reported failed (conditional_conflict) when no object exists", async () => {
    seen.length = 0;
    head = { status: 404 };
    const checks: OutcomeCheck[] = [];
    const err = await writer.write("k/1.json", "{}", {}, undefined, { onCheck: (r) => checks.push(r) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveWriteError);
    expect((err as ArchiveWriteError).code).toBe("conditional_conflict");
    expect(seen).toEqual(["PUT", "PUT", "PUT", "PUT", "HEAD"]);
    expect(checks).toEqual(["absent"]);
  });

  it("is durable when the racing writer's object exists at the key: this write's bytes -> archived, others -> duplicate", async () => {
    const body = "{}";
    head = { status: 200, length: 2, etag: `"${createHash("md5").update(body).digest("hex")}"` };
    expect(await writer.write("k/2.json", body, {})).toMatchObject({ outcome: "archived", confirmedByCheck: true });
    head = { status: 200, length: 7, etag: '"0123456789abcdef0123456789abcdef"' };
    expect(await writer.write("k/3.json", body, {})).toMatchObject({ outcome: "duplicate" });
  });
});
