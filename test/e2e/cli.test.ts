import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, waitFor, type Backend } from "../support/harness.js";
import { freePort, isolatedEnv, spawnService, type ChildService } from "../support/process.js";

const run = promisify(execFile);
const BUCKET = "e2e-archive";

/**
 * Drives the real process the way a user does: the `aws` CLI against the emulator, HTTP on the probes, SIGTERM to
 * stop it. Requires the AWS CLI (`.ci/run` installs Debian's awscli).
 */
describe("end to end: the real process, the aws CLI and the probes", () => {
  let backend: Backend;
  let svc: ChildService;
  let queueUrl: string;
  let base: string;
  let cliEnv: NodeJS.ProcessEnv;
  const aws = async (...args: string[]) => (await run("aws", ["--endpoint-url", backend.fauxqs.address, "--output", "json", ...args], { env: cliEnv, maxBuffer: 64 << 20 })).stdout;

  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket(BUCKET);
    queueUrl = await backend.createQueue("e2e-q");
    cliEnv = { ...process.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_DEFAULT_REGION: "us-east-1", AWS_PAGER: "" };
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    svc = spawnService(isolatedEnv({
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: backend.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      HEALTH_PORT: String(port),
      WAIT_TIME_SECONDS: "2",
      CONCURRENCY: "2",
      SHUTDOWN_TIMEOUT_SECONDS: "10",
      LOG_LEVEL: "debug",
    }));
  });
  afterAll(async () => {
    if (svc && svc.child.exitCode === null) svc.child.kill("SIGKILL");
    await backend?.close();
  });

  it("becomes live and ready", async () => {
    await waitFor(async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200, 30_000);
    const health = (await (await fetch(`${base}/health`)).json()) as Record<string, unknown>;
    expect(health.status).toBe("healthy");
  });

  it("archives messages sent with `aws sqs send-message`, readable with `aws s3 cp`", async () => {
    const small = JSON.parse(await aws("sqs", "send-message", "--queue-url", queueUrl, "--message-body", '{"order":42,"note":"grüße"}')) as { MessageId: string };
    // A large body cannot be one argv entry (128 KiB cap): the CLI reads it from a file.
    const dir = mkdtempSync(join(tmpdir(), "e2e-"));
    const bigBody = "x".repeat(200_000) + "ü";
    writeFileSync(join(dir, "big.txt"), bigBody);
    const big = JSON.parse(await aws("sqs", "send-message", "--queue-url", queueUrl, "--message-body", `file://${join(dir, "big.txt")}`)) as { MessageId: string };

    const listing = await waitFor(async () => {
      const out = await aws("s3", "ls", "--recursive", `s3://${BUCKET}/sqs-messages/`);
      return out.includes(small.MessageId) && out.includes(big.MessageId) ? out : undefined;
    }, 20_000);
    const keys = listing
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[3])
      .filter((k): k is string => Boolean(k));
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key).toMatch(/^sqs-messages\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f-]+\.json$/);

    const smallKey = keys.find((k) => k.includes(small.MessageId)) as string;
    const env = JSON.parse((await run("aws", ["--endpoint-url", backend.fauxqs.address, "s3", "cp", `s3://${BUCKET}/${smallKey}`, "-"], { env: cliEnv })).stdout) as Record<string, any>;
    expect(env.body).toBe('{"order":42,"note":"grüße"}');
    expect(env.messageId).toBe(small.MessageId);
    const bigKey = keys.find((k) => k.includes(big.MessageId)) as string;
    const bigEnv = JSON.parse((await run("aws", ["--endpoint-url", backend.fauxqs.address, "s3", "cp", `s3://${BUCKET}/${bigKey}`, "-"], { env: cliEnv, maxBuffer: 64 << 20 })).stdout) as Record<string, any>;
    expect(bigEnv.body).toBe(bigBody);

    const attrs = JSON.parse(
      await aws("sqs", "get-queue-attributes", "--queue-url", queueUrl, "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"),
    ) as { Attributes: Record<string, string> };
    await waitFor(async () => {
      const a = JSON.parse(
        await aws("sqs", "get-queue-attributes", "--queue-url", queueUrl, "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"),
      ) as { Attributes: Record<string, string> };
      return a.Attributes.ApproximateNumberOfMessages === "0" && a.Attributes.ApproximateNumberOfMessagesNotVisible === "0";
    });
    expect(attrs.Attributes).toBeDefined();

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^sqs_archiver_messages_archived_total 2$/m);
    expect(metrics).toMatch(/^sqs_archiver_messages_deleted_total 2$/m);
  });

  it("logs JSON lines with ids and keys, never bodies", () => {
    expect(svc.stdout.length).toBeGreaterThan(0);
    for (const line of svc.stdout) expect(() => JSON.parse(line)).not.toThrow();
    const archived = svc.logs().filter((l) => l.event === "archived");
    expect(archived).toHaveLength(2);
    for (const l of archived) {
      expect(typeof l.messageId).toBe("string");
      expect(String(l.key)).toContain(String(l.messageId));
    }
    const all = svc.stdout.join("\n") + svc.stderr.join("\n");
    expect(all).not.toContain("grüße");
    expect(all).not.toContain("xxxxxxxxxx");
  });

  it("exits 0 on SIGTERM, cleanly and within the shutdown timeout", async () => {
    const t0 = Date.now();
    svc.child.kill("SIGTERM");
    const { code } = await svc.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const done = svc.logs().find((l) => l.event === "shutdown_complete");
    expect(done?.clean).toBe(true);
  });
});

describe("end to end: invalid configuration", () => {
  it("exits non-zero within a second, one line per problem, before any AWS call", async () => {
    const backend = await startBackend();
    try {
      const t0 = Date.now();
      const svc = spawnService(isolatedEnv({
        SQS_QUEUE_URL: "not-a-url",
        MAX_MESSAGES_PER_POLL: "50",
        S3_SSE: "rot13",
        AWS_ENDPOINT_URL: backend.endpoint,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
      }));
      const { code } = await svc.exited;
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(code).toBe(78);
      expect(svc.stderr).toHaveLength(4);
      expect(svc.stderr[0]).toMatch(/SQS_QUEUE_URL="not-a-url": must be an SQS queue URL/);
      expect(svc.stderr.join("\n")).toMatch(/S3_BUCKET_NAME=\(unset\): is required/);
      expect(svc.stderr.join("\n")).toMatch(/MAX_MESSAGES_PER_POLL="50": must be a whole number from 1 to 10/);
      expect(svc.stderr.join("\n")).toMatch(/S3_SSE="rot13": must be one of none, AES256, aws:kms/);
      expect([...backend.proxy.counts.values()].reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await backend.close();
    }
  });
});
