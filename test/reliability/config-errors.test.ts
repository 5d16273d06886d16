import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, spawnService } from "../support/process.js";

/**
 * Invalid or missing configuration of every kind, against the real process: exit 78 within a second, one clear line
 * per problem naming the variable, the value and what is allowed, nothing on stdout, and not a single AWS call (the
 * endpoint is a recording server that would see any).
 */
describe("invalid configuration", () => {
  let server: http.Server;
  let endpoint: string;
  let requests = 0;

  beforeAll(async () => {
    assertBuilt();
    server = http.createServer((req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
  const ok = { SQS_QUEUE_URL: QUEUE, S3_BUCKET_NAME: "archive-bucket" };

  const cases: Array<{ name: string; env: Record<string, string>; lines: RegExp[] }> = [
    { name: "nothing set", env: {}, lines: [/^SQS_QUEUE_URL=\(unset\): is required/, /^S3_BUCKET_NAME=\(unset\): is required/] },
    { name: "queue URL not a URL", env: { ...ok, SQS_QUEUE_URL: "orders" }, lines: [/^SQS_QUEUE_URL="orders": must be an SQS queue URL/] },
    { name: "queue URL without a queue name", env: { ...ok, SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/" }, lines: [/^SQS_QUEUE_URL=.*must be an SQS queue URL/] },
    { name: "bucket given as an ARN", env: { ...ok, S3_BUCKET_NAME: "arn:aws:s3:::archive" }, lines: [/^S3_BUCKET_NAME="arn:aws:s3:::archive": must be a valid S3 bucket name/] },
    { name: "bucket given as s3:// URL", env: { ...ok, S3_BUCKET_NAME: "s3://archive" }, lines: [/^S3_BUCKET_NAME="s3:\/\/archive": must be a valid S3 bucket name/] },
    { name: "batch size 0", env: { ...ok, MAX_MESSAGES_PER_POLL: "0" }, lines: [/^MAX_MESSAGES_PER_POLL="0": must be a whole number from 1 to 10/] },
    { name: "batch size 11", env: { ...ok, MAX_MESSAGES_PER_POLL: "11" }, lines: [/^MAX_MESSAGES_PER_POLL="11": must be a whole number from 1 to 10/] },
    { name: "wait time 21", env: { ...ok, WAIT_TIME_SECONDS: "21" }, lines: [/^WAIT_TIME_SECONDS="21": must be a whole number from 0 to 20/] },
    { name: "wait time not a number", env: { ...ok, WAIT_TIME_SECONDS: "ten" }, lines: [/^WAIT_TIME_SECONDS="ten": must be a whole number/] },
    { name: "fractional concurrency", env: { ...ok, CONCURRENCY: "2.5" }, lines: [/^CONCURRENCY="2.5": must be a whole number/] },
    { name: "negative visibility", env: { ...ok, VISIBILITY_TIMEOUT_SECONDS: "-1" }, lines: [/^VISIBILITY_TIMEOUT_SECONDS="-1": must be a whole number/] },
    { name: "port out of range", env: { ...ok, HEALTH_PORT: "70000" }, lines: [/^HEALTH_PORT="70000": must be a whole number from 0 to 65535/] },
    { name: "unknown log level", env: { ...ok, LOG_LEVEL: "loud" }, lines: [/^LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/] },
    { name: "boolean spelled yes", env: { ...ok, S3_FORCE_PATH_STYLE: "yes" }, lines: [/^S3_FORCE_PATH_STYLE="yes": must be true or false/] },
    { name: "unknown SSE mode", env: { ...ok, S3_SSE: "kms" }, lines: [/^S3_SSE="kms": must be one of none, AES256, aws:kms/] },
    { name: "KMS key without aws:kms", env: { ...ok, S3_KMS_KEY_ID: "alias/archive" }, lines: [/^S3_KMS_KEY_ID="alias\/archive": is only allowed with S3_SSE=aws:kms/] },
    { name: "unknown storage class", env: { ...ok, S3_STORAGE_CLASS: "COLD" }, lines: [/^S3_STORAGE_CLASS="COLD": must be one of STANDARD/] },
    { name: "prefix with a leading slash", env: { ...ok, S3_PREFIX: "/archive/" }, lines: [/^S3_PREFIX="\/archive\/": must not start with '\/'/] },
    { name: "shutdown timeout 0", env: { ...ok, SHUTDOWN_TIMEOUT_SECONDS: "0" }, lines: [/^SHUTDOWN_TIMEOUT_SECONDS="0": must be a whole number from 1/] },
    {
      name: "shutdown budget shorter than the long poll plus its margin",
      env: { ...ok, WAIT_TIME_SECONDS: "20", SHUTDOWN_TIMEOUT_SECONDS: "22" },
      lines: [/^SHUTDOWN_TIMEOUT_SECONDS="22": must be at least 25 with WAIT_TIME_SECONDS="20"/],
    },
    {
      name: "shutdown budget shorter than the default long poll",
      env: { ...ok, SHUTDOWN_TIMEOUT_SECONDS: "10" },
      lines: [/^SHUTDOWN_TIMEOUT_SECONDS="10": must be at least 25 with WAIT_TIME_SECONDS=.*20/],
    },
    { name: "malformed region", env: { ...ok, AWS_REGION: "Europe" }, lines: [/^AWS_REGION="Europe": must be an AWS region/] },
    {
      name: "region neither set nor derivable",
      env: { ...ok, SQS_QUEUE_URL: "http://queue.internal:4566/000000000000/orders", AWS_REGION: "" },
      lines: [/^AWS_REGION=\(unset\): is required when the region cannot be derived from SQS_QUEUE_URL host \(queue\.internal\)/],
    },
    { name: "endpoint not http(s)", env: { ...ok, AWS_ENDPOINT_URL_S3: "ftp://example" }, lines: [/^AWS_ENDPOINT_URL_S3="ftp:\/\/example": must be an http\(s\) URL/] },
    {
      name: "several problems at once, one line each",
      env: { SQS_QUEUE_URL: "nope", S3_BUCKET_NAME: "Bad_Bucket", CONCURRENCY: "0", LOG_LEVEL: "verbose" },
      lines: [/^SQS_QUEUE_URL="nope"/, /^S3_BUCKET_NAME="Bad_Bucket"/, /^CONCURRENCY="0"/, /^LOG_LEVEL="verbose"/],
    },
  ];

  it.each(cases)("$name: exit 78, one line per problem, no AWS call", async ({ env, lines }) => {
    const before = requests;
    const started = Date.now();
    const svc = spawnService({
      PATH: process.env.PATH,
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_EC2_METADATA_DISABLED: "true",
      HEALTH_PORT: "0",
      ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")),
      ...(env.AWS_REGION === "" ? { AWS_REGION: undefined } : {}),
    });
    const exit = await svc.exited;
    expect(exit.code).toBe(78);
    expect(Date.now() - started).toBeLessThan(3000); // a second of work; generous for a loaded CI machine
    expect(svc.stdout).toEqual([]);
    expect(svc.stderr).toHaveLength(lines.length);
    for (const [i, re] of lines.entries()) {
      const line = svc.stderr.find((l) => re.test(l.replace(/^sqs-archiver: CONFIG_INVALID: /, "")));
      expect(line, `line ${i} ${String(re)} in ${JSON.stringify(svc.stderr)}`).toBeDefined();
    }
    for (const l of svc.stderr) expect(l).toMatch(/^sqs-archiver: CONFIG_INVALID: [A-Z0-9_]+=/);
    expect(requests - before).toBe(0);
  });
});
