import http from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createAwsClients } from "../../src/aws/aws-clients.js";
import { loadConfig } from "../../src/config.js";

/**
 * The service never configures credentials: the SDK's default chain must pick up IRSA (web identity token file)
 * and EKS Pod Identity (container credentials URI + token file). These tests run that chain against loopback stand-ins
 * for STS and the Pod Identity agent, and check what the SQS and S3 clients actually sign requests with.
 */

interface Captured {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function server(handler: (req: Captured, res: http.ServerResponse) => void) {
  const seen: Captured[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const c = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(c);
      handler(c, res);
    });
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** Answers like S3 (PutObject) and SQS (JSON protocol) so the clients' signed requests can be inspected. */
const awsTarget = (req: Captured, res: http.ServerResponse) => {
  if (req.headers["x-amz-target"]) {
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify({ Attributes: {} }));
  } else {
    res.writeHead(200, { etag: '"abc"' }).end();
  }
};

const ENV_TO_CLEAR = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_ROLE_ARN",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_STS",
];

describe("credentials from the SDK default provider chain", () => {
  const dir = mkdtempSync(join(tmpdir(), "creds-"));
  let closers: Array<() => Promise<void>> = [];

  beforeEach(() => {
    for (const k of ENV_TO_CLEAR) vi.stubEnv(k, undefined);
    // No shared config or credentials files and no instance metadata may win over the path under test.
    vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", join(dir, "none-credentials"));
    vi.stubEnv("AWS_CONFIG_FILE", join(dir, "none-config"));
    vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
    vi.stubEnv("AWS_REGION", "eu-west-1");
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    for (const c of closers) await c();
    closers = [];
  });

  async function signWithDefaultChain(target: string) {
    const config = loadConfig({
      SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
      S3_BUCKET_NAME: "archive-bucket",
      AWS_ENDPOINT_URL: target,
      S3_FORCE_PATH_STYLE: "true",
    });
    const clients = createAwsClients(config);
    try {
      await clients.s3.send(new PutObjectCommand({ Bucket: "archive-bucket", Key: "k.json", Body: "{}" }));
      await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: config.queueUrl, AttributeNames: ["All"] }));
    } finally {
      clients.destroy();
    }
  }

  it("IRSA: exchanges the projected service-account token with STS AssumeRoleWithWebIdentity and signs with the result", async () => {
    const tokenFile = join(dir, "irsa-token");
    writeFileSync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.projected-sa-token.sig");
    const sts = await server((req, res) => {
      res.writeHead(200, { "content-type": "text/xml" }).end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAIRSAEXAMPLE</AccessKeyId>
      <SecretAccessKey>irsa-secret</SecretAccessKey>
      <SessionToken>irsa-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:sqs-archiver:sqs-archiver</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/sqs-archiver/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`);
    });
    const target = await server(awsTarget);
    closers.push(sts.close, target.close);
    vi.stubEnv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/sqs-archiver");
    vi.stubEnv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile);
    vi.stubEnv("AWS_ENDPOINT_URL_STS", sts.url);

    await signWithDefaultChain(target.url);

    expect(sts.seen.length).toBeGreaterThanOrEqual(1);
    const form = new URLSearchParams(sts.seen[0]?.body);
    expect(form.get("Action")).toBe("AssumeRoleWithWebIdentity");
    expect(form.get("RoleArn")).toBe("arn:aws:iam::123456789012:role/sqs-archiver");
    expect(form.get("WebIdentityToken")).toBe("eyJhbGciOiJSUzI1NiJ9.projected-sa-token.sig");
    expect(target.seen).toHaveLength(2);
    for (const req of target.seen) {
      expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAIRSAEXAMPLE\/\d{8}\/eu-west-1\/(s3|sqs)\/aws4_request/);
      expect(req.headers["x-amz-security-token"]).toBe("irsa-session-token");
    }
  });

  it("EKS Pod Identity: fetches credentials from the agent with the authorization token file and signs with them", async () => {
    const tokenFile = join(dir, "pod-identity-token");
    writeFileSync(tokenFile, "pod-identity-agent-token");
    const agent = await server((req, res) => {
      if (req.headers.authorization !== "pod-identity-agent-token") {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          AccessKeyId: "ASIAPODIDENTITY",
          SecretAccessKey: "pod-secret",
          Token: "pod-session-token",
          AccountId: "123456789012",
          Expiration: "2099-01-01T00:00:00Z",
        }),
      );
    });
    const target = await server(awsTarget);
    closers.push(agent.close, target.close);
    vi.stubEnv("AWS_CONTAINER_CREDENTIALS_FULL_URI", `${agent.url}/v1/credentials`);
    vi.stubEnv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile);

    await signWithDefaultChain(target.url);

    expect(agent.seen.length).toBeGreaterThanOrEqual(1);
    expect(agent.seen[0]?.path).toBe("/v1/credentials");
    expect(target.seen).toHaveLength(2);
    for (const req of target.seen) {
      expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAPODIDENTITY\//);
      expect(req.headers["x-amz-security-token"]).toBe("pod-session-token");
    }
  });
});
