import { describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/aws/aws-clients.js";
import { CLI_REQUEST_TIMEOUT_MS, S3_MAX_ATTEMPTS, SQS_MAX_ATTEMPTS, sqsRequestTimeoutMs } from "../../src/aws/sdk-settings.js";
import { loadConfig } from "../../src/config.js";
import { loopWaitsMs } from "../../src/http/health.js";
import { createReplayClients } from "../../src/replay/clients.js";

const creds = async () => ({ accessKeyId: "a", secretAccessKey: "b" });

async function timeoutOf(handler: unknown): Promise<number | undefined> {
  // The handler resolves its options lazily into a private promise; reading it is the only way to see the timeout.
  const h = handler as { configProvider?: Promise<{ requestTimeout?: number }> };
  return (await h.configProvider)?.requestTimeout;
}

describe("the SDK's retry and timeout settings: one place, read by the clients and by the liveness threshold", () => {
  const config = loadConfig({ SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "bucket-a", WAIT_TIME_SECONDS: "7", S3_REQUEST_TIMEOUT_SECONDS: "9" });

  it("the service's clients use them", async () => {
    const c = createAwsClients(config, creds);
    try {
      expect(await c.sqs.config.maxAttempts()).toBe(SQS_MAX_ATTEMPTS);
      expect(await c.s3.config.maxAttempts()).toBe(S3_MAX_ATTEMPTS);
      expect(await timeoutOf(c.sqs.config.requestHandler)).toBe(sqsRequestTimeoutMs(7));
      expect(await timeoutOf(c.s3.config.requestHandler)).toBe(9_000);
    } finally {
      c.destroy();
    }
  });

  it("the liveness threshold sums what those clients can take", () => {
    const waits = loopWaitsMs(config);
    expect(waits.receive).toBe(SQS_MAX_ATTEMPTS * sqsRequestTimeoutMs(7));
    expect(waits.archive).toBe(S3_MAX_ATTEMPTS * 9_000);
  });

  it("replay's clients use the same attempts", async () => {
    const c = createReplayClients({ region: "eu-west-1", s3Region: "eu-west-1", sqsEndpoint: undefined, s3Endpoint: undefined, s3ForcePathStyle: false, sockets: 4 });
    try {
      expect(await c.sqs.config.maxAttempts()).toBe(SQS_MAX_ATTEMPTS);
      expect(await c.s3.config.maxAttempts()).toBe(S3_MAX_ATTEMPTS);
      expect(await timeoutOf(c.sqs.config.requestHandler)).toBe(CLI_REQUEST_TIMEOUT_MS);
    } finally {
      c.destroy();
    }
  });
});
