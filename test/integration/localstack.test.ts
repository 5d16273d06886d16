import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/aws/aws-clients.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { ArchiverService } from "../../src/service.js";
import { LogCapture, TEST_CREDENTIALS, waitFor } from "../support/harness.js";

/**
 * The core archive scenarios against LocalStack, where Docker exists (Jenkins agents):
 *   ARCHIVER_TEST_BACKEND=localstack npm test
 * Unlike the emulator, LocalStack enforces If-None-Match itself, so no proxy shim is involved.
 */
const enabled = process.env.ARCHIVER_TEST_BACKEND === "localstack";

describe.skipIf(!enabled)("against LocalStack (testcontainers)", () => {
  it("archives every message once with the exact body and empties the queue", async () => {
    const { LocalstackContainer } = await import("@testcontainers/localstack");
    const container = await new LocalstackContainer(process.env.LOCALSTACK_IMAGE ?? "localstack/localstack:4").start();
    const endpoint = container.getConnectionUri();
    const common = { region: "us-east-1", credentials: TEST_CREDENTIALS, endpoint };
    const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    let service: ArchiverService | undefined;
    try {
      await s3.send(new CreateBucketCommand({ Bucket: "ls-archive" }));
      const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "ls-q" }))).QueueUrl as string;
      const bodies = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, s: "ünïcödé" }));
      for (let i = 0; i < bodies.length; i += 10) {
        await sqs.send(
          new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: `m${j}`, MessageBody: b })) }),
        );
      }
      const config = loadConfig({
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: "ls-archive",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL: endpoint,
        S3_FORCE_PATH_STYLE: "true",
        HEALTH_PORT: "0",
        WAIT_TIME_SECONDS: "1",
        CONCURRENCY: "2",
      });
      service = new ArchiverService({
        config,
        log: createLogger("info", new LogCapture()),
        version: "test",
        nodeVersion: process.versions.node,
        clients: createAwsClients(config, async () => TEST_CREDENTIALS),
        host: "127.0.0.1",
      });
      await service.start();
      const keys = await waitFor(async () => {
        const out = await s3.send(new ListObjectsV2Command({ Bucket: "ls-archive" }));
        const k = (out.Contents ?? []).map((o) => o.Key as string);
        return k.length === bodies.length ? k : undefined;
      }, 60_000);
      const got = new Set<string>();
      for (const key of keys) {
        const env = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: "ls-archive", Key: key }))).Body!.transformToString()) as { body: string };
        got.add(env.body);
      }
      expect(got).toEqual(new Set(bodies));
      await waitFor(async () => {
        const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }))).Attributes ?? {};
        return a.ApproximateNumberOfMessages === "0" && a.ApproximateNumberOfMessagesNotVisible === "0";
      }, 30_000);
    } finally {
      await service?.stop();
      sqs.destroy();
      s3.destroy();
      await container.stop();
    }
  }, 300_000);
});
