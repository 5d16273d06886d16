import { describe, expect, it } from "vitest";
import { parseReplayArgs } from "../../src/cli/replay-args.js";
import { configWarnings, defaultInflightBytes, loadConfig, regionFromQueueUrl, SERVICE_ENV_VARS } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const REQUIRED = { SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders", S3_BUCKET_NAME: "my-archive" };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("CONFIG_INVALID");
    return [...(err as ConfigError).problems];
  }
  return [];
}

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig(REQUIRED);
    expect(c).toMatchObject({
      queueUrl: REQUIRED.SQS_QUEUE_URL,
      bucket: "my-archive",
      region: "eu-west-1",
      prefix: "sqs-messages/",
      maxMessagesPerPoll: 10,
      waitTimeSeconds: 20,
      pollIntervalSeconds: 0,
      visibilityTimeoutSeconds: 60,
      heartbeatIntervalSeconds: 20,
      concurrency: 8,
      healthPort: 8080,
      logLevel: "info",
      s3ForcePathStyle: false,
      sse: "none",
      storageClass: "STANDARD",
      shutdownTimeoutSeconds: 30,
    });
    expect(c.kmsKeyId).toBeUndefined();
    expect(c.sqsEndpoint).toBeUndefined();
  });

  it("reads every variable", () => {
    const c = loadConfig({
      ...REQUIRED,
      AWS_REGION: "us-west-2",
      S3_PREFIX: "archive/orders/",
      MAX_MESSAGES_PER_POLL: "5",
      WAIT_TIME_SECONDS: "0",
      POLL_INTERVAL_SECONDS: "3",
      VISIBILITY_TIMEOUT_SECONDS: "90",
      CONCURRENCY: "16",
      HEALTH_PORT: "9090",
      LOG_LEVEL: "debug",
      S3_FORCE_PATH_STYLE: "true",
      S3_SSE: "aws:kms",
      S3_KMS_KEY_ID: "arn:aws:kms:us-west-2:123456789012:key/abc",
      S3_STORAGE_CLASS: "STANDARD_IA",
      SHUTDOWN_TIMEOUT_SECONDS: "45",
      S3_REQUEST_TIMEOUT_SECONDS: "10",
      AWS_ENDPOINT_URL: "http://localhost:4566",
      AWS_ENDPOINT_URL_S3: "http://localhost:9000",
    });
    expect(c).toMatchObject({
      region: "us-west-2",
      prefix: "archive/orders/",
      maxMessagesPerPoll: 5,
      waitTimeSeconds: 0,
      pollIntervalSeconds: 3,
      visibilityTimeoutSeconds: 90,
      heartbeatIntervalSeconds: 30,
      concurrency: 16,
      healthPort: 9090,
      logLevel: "debug",
      s3ForcePathStyle: true,
      sse: "aws:kms",
      kmsKeyId: "arn:aws:kms:us-west-2:123456789012:key/abc",
      storageClass: "STANDARD_IA",
      shutdownTimeoutSeconds: 45,
      s3RequestTimeoutSeconds: 10,
      sqsEndpoint: "http://localhost:4566",
      s3Endpoint: "http://localhost:9000",
    });
  });

  it("treats empty values as unset (a blank ConfigMap key)", () => {
    expect(loadConfig({ ...REQUIRED, S3_PREFIX: "", CONCURRENCY: "" }).concurrency).toBe(8);
  });

  it("reports every missing required variable, one line each", () => {
    const p = problems({});
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^SQS_QUEUE_URL=\(unset\): is required/);
    expect(p[1]).toMatch(/^S3_BUCKET_NAME=\(unset\): is required/);
  });

  it.each([
    ["MAX_MESSAGES_PER_POLL", "11", "whole number from 1 to 10"],
    ["MAX_MESSAGES_PER_POLL", "0", "whole number from 1 to 10"],
    ["WAIT_TIME_SECONDS", "21", "whole number from 0 to 20"],
    ["WAIT_TIME_SECONDS", "abc", "whole number from 0 to 20"],
    ["VISIBILITY_TIMEOUT_SECONDS", "43201", "whole number from 2 to 43200"],
    ["CONCURRENCY", "1.5", "whole number from 1 to 64"],
    ["HEALTH_PORT", "70000", "whole number from 0 to 65535"],
    ["LOG_LEVEL", "loud", "one of fatal, error, warn, info, debug, trace, silent"],
    ["S3_FORCE_PATH_STYLE", "yes", "true or false"],
    ["S3_SSE", "kms", "one of none, AES256, aws:kms"],
    ["S3_STORAGE_CLASS", "COLD", "one of STANDARD"],
    ["S3_PREFIX", "/leading", "must not start with '/'"],
    ["SHUTDOWN_TIMEOUT_SECONDS", "-1", "whole number from 1 to 3600"],
    ["SQS_QUEUE_URL", "my-queue", "SQS queue URL"],
    ["SQS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/only-one-part", "SQS queue URL"],
    ["S3_BUCKET_NAME", "s3://my-bucket", "valid S3 bucket name"],
    ["S3_BUCKET_NAME", "UPPER", "valid S3 bucket name"],
    ["AWS_REGION", "Europe", "AWS region"],
    ["AWS_ENDPOINT_URL", "not a url", "http(s) URL"],
    ["S3_REGION", "Frankfurt", "AWS region"],
    ["ARCHIVE_FORMAT", "parquet", "one of message, ndjson"],
    ["ARCHIVE_COMPRESSION", "brotli", "one of gzip, zstd, none"],
    ["BATCH_MAX_MESSAGES", "0", "whole number from 1 to 1000000"],
    ["BATCH_MAX_BYTES", "100", "whole number from 1024 to 5368709120"],
    ["BATCH_MAX_SECONDS", "3601", "whole number from 1 to 3600"],
    ["MAX_INFLIGHT_BYTES", "-5", "whole number from 0 to"],
  ])("rejects %s=%s naming the variable, the value and what is allowed", (name, value, allowed) => {
    const p = problems({ ...REQUIRED, [name]: value });
    expect(p).toHaveLength(1);
    expect(p[0]).toContain(`${name}=${JSON.stringify(value)}`);
    expect(p[0]).toContain(allowed);
  });

  it("reports all bad variables at once", () => {
    const p = problems({ ...REQUIRED, CONCURRENCY: "0", LOG_LEVEL: "x", S3_SSE: "y" });
    expect(p.map((l) => l.split("=")[0])).toEqual(["CONCURRENCY", "LOG_LEVEL", "S3_SSE"]);
  });

  it("only allows S3_KMS_KEY_ID with S3_SSE=aws:kms", () => {
    expect(problems({ ...REQUIRED, S3_KMS_KEY_ID: "k" })[0]).toMatch(/^S3_KMS_KEY_ID="k": is only allowed with S3_SSE=aws:kms/);
    expect(loadConfig({ ...REQUIRED, S3_SSE: "aws:kms" }).kmsKeyId).toBeUndefined();
  });

  it("needs AWS_REGION when the queue host does not name one", () => {
    const p = problems({ SQS_QUEUE_URL: "http://localhost:4566/000000000000/q", S3_BUCKET_NAME: "bkt" });
    expect(p[0]).toMatch(/^AWS_REGION=\(unset\): is required when the region cannot be derived/);
    expect(loadConfig({ SQS_QUEUE_URL: "http://localhost:4566/000000000000/q", S3_BUCKET_NAME: "bkt", AWS_REGION: "us-east-1" }).region).toBe("us-east-1");
  });

  it("accepts FIFO queue URLs", () => {
    expect(loadConfig({ ...REQUIRED, SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo" }).queueUrl).toMatch(/\.fifo$/);
  });

  it("lists the service's variables for the deployment artefacts", () => {
    expect(SERVICE_ENV_VARS).toContain("SQS_QUEUE_URL");
    expect(SERVICE_ENV_VARS).toContain("SHUTDOWN_TIMEOUT_SECONDS");
    expect(SERVICE_ENV_VARS).not.toContain("AWS_ENDPOINT_URL");
  });
});

describe("S3_REGION and the in-flight byte budget", () => {
  it("uses the queue's region for the bucket unless S3_REGION names another", () => {
    expect(loadConfig(REQUIRED).s3Region).toBe("eu-west-1");
    expect(loadConfig({ ...REQUIRED, AWS_REGION: "us-west-2" }).s3Region).toBe("us-west-2");
    const c = loadConfig({ ...REQUIRED, S3_REGION: "us-east-1" });
    expect(c).toMatchObject({ region: "eu-west-1", s3Region: "us-east-1" });
  });

  it("derives MAX_INFLIGHT_BYTES from the container memory limit when unset or 0", () => {
    const MiB = 1024 * 1024;
    expect(loadConfig(REQUIRED, { memoryLimitBytes: 512 * MiB }).maxInflightBytes).toBe(32 * MiB);
    expect(loadConfig({ ...REQUIRED, MAX_INFLIGHT_BYTES: "0" }, { memoryLimitBytes: 1024 * MiB }).maxInflightBytes).toBe(64 * MiB);
    expect(loadConfig({ ...REQUIRED, MAX_INFLIGHT_BYTES: String(5 * MiB) }, { memoryLimitBytes: 1024 * MiB }).maxInflightBytes).toBe(5 * MiB);
    expect(defaultInflightBytes(64 * MiB)).toBe(8 * MiB);
    // No limit known (constrainedMemory() answers 0 or a huge number outside a cgroup).
    expect(defaultInflightBytes(undefined)).toBe(64 * MiB);
    expect(defaultInflightBytes(0)).toBe(64 * MiB);
    expect(defaultInflightBytes(2 ** 62)).toBe(64 * MiB);
  });
});

describe("ARCHIVE_FORMAT=ndjson", () => {
  const ND = { ...REQUIRED, ARCHIVE_FORMAT: "ndjson" };

  it("defaults: message layout unless asked; gzip, 10,000 messages, 16 MiB, 60 s", () => {
    expect(loadConfig(REQUIRED).archiveFormat).toBe("message");
    expect(loadConfig(ND)).toMatchObject({
      archiveFormat: "ndjson",
      archiveCompression: "gzip",
      batchMaxMessages: 10_000,
      batchMaxBytes: 16 * 1024 * 1024,
      batchMaxSeconds: 60,
      s3WriteBudgetSeconds: 120,
    });
  });

  it("defaults the visibility timeout to cover an open batch plus its write budget (and a margin) when unset", () => {
    expect(loadConfig(ND).visibilityTimeoutSeconds).toBe(60 + 4 * 30 + 30);
    expect(loadConfig({ ...ND, BATCH_MAX_SECONDS: "10", S3_REQUEST_TIMEOUT_SECONDS: "5" }).visibilityTimeoutSeconds).toBe(60);
    // Message mode keeps its own default.
    expect(loadConfig(REQUIRED).visibilityTimeoutSeconds).toBe(60);
  });

  it("refuses a visibility timeout that cannot cover BATCH_MAX_SECONDS plus the write budget, naming the rule", () => {
    const p = problems({ ...ND, VISIBILITY_TIMEOUT_SECONDS: "180" });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^VISIBILITY_TIMEOUT_SECONDS="180": must be more than BATCH_MAX_SECONDS \+ 4 x S3_REQUEST_TIMEOUT_SECONDS = 180 with ARCHIVE_FORMAT=ndjson/);
    expect(loadConfig({ ...ND, VISIBILITY_TIMEOUT_SECONDS: "181" }).visibilityTimeoutSeconds).toBe(181);
    expect(problems({ ...ND, VISIBILITY_TIMEOUT_SECONDS: "29", BATCH_MAX_SECONDS: "5", S3_REQUEST_TIMEOUT_SECONDS: "6" })[0]).toContain("= 29");
    // The same values are fine in message mode, where nothing waits for a batch.
    expect(loadConfig({ ...REQUIRED, VISIBILITY_TIMEOUT_SECONDS: "30" }).visibilityTimeoutSeconds).toBe(30);
  });
});

describe("regionFromQueueUrl", () => {
  it.each([
    ["https://sqs.eu-west-1.amazonaws.com/1/q", "eu-west-1"],
    ["https://sqs.us-gov-west-1.amazonaws.com/1/q", "us-gov-west-1"],
    ["https://eu-central-1.queue.amazonaws.com/1/q", "eu-central-1"],
    ["https://sqs.cn-north-1.amazonaws.com.cn/1/q", "cn-north-1"],
    ["http://sqs.us-east-1.localhost:4566/000000000000/q", "us-east-1"],
    ["http://localhost:4566/000000000000/q", undefined],
  ])("%s -> %s", (url, region) => expect(regionFromQueueUrl(url)).toBe(region));
});

describe("every problem in one pass, and warnings", () => {
  it("rules between variables are reported together with the per-variable problems", () => {
    const p = problems({
      ...REQUIRED,
      MAX_MESSAGES_PER_POLL: "50",
      S3_KMS_KEY_ID: "alias/archive",
      ARCHIVE_FORMAT: "ndjson",
      VISIBILITY_TIMEOUT_SECONDS: "30",
    });
    expect(p).toHaveLength(3);
    expect(p.join("\n")).toMatch(/^MAX_MESSAGES_PER_POLL="50"/m);
    expect(p.join("\n")).toMatch(/^S3_KMS_KEY_ID="alias\/archive": is only allowed with S3_SSE=aws:kms/m);
    expect(p.join("\n")).toMatch(/^VISIBILITY_TIMEOUT_SECONDS="30": must be more than BATCH_MAX_SECONDS/m);
  });

  it("a rule whose input is itself invalid is not reported twice", () => {
    const p = problems({ ...REQUIRED, S3_SSE: "rot13", S3_KMS_KEY_ID: "k" });
    expect(p).toEqual([expect.stringMatching(/^S3_SSE="rot13": must be one of/)]);
  });

  it("a batched-only variable in message mode is a warning line, not an error", () => {
    const env = { ...REQUIRED, ARCHIVE_COMPRESSION: "zstd", BATCH_MAX_SECONDS: "10" };
    const c = loadConfig(env);
    expect(configWarnings(env, c)).toEqual([
      'ARCHIVE_COMPRESSION="zstd": has no effect with ARCHIVE_FORMAT=message (it applies to batched mode, ARCHIVE_FORMAT=ndjson)',
      'BATCH_MAX_SECONDS="10": has no effect with ARCHIVE_FORMAT=message (it applies to batched mode, ARCHIVE_FORMAT=ndjson)',
    ]);
    expect(configWarnings({ ...env, ARCHIVE_FORMAT: "ndjson" }, loadConfig({ ...env, ARCHIVE_FORMAT: "ndjson" }))).toEqual([]);
    expect(configWarnings(REQUIRED, loadConfig(REQUIRED))).toEqual([]);
  });
});

describe("one set of validators for the service and the CLI", () => {
  const TO = "https://sqs.eu-west-1.amazonaws.com/123456789012/dst";
  const cliProblems = (env: Record<string, string>): string[] => {
    try {
      parseReplayArgs(["--since", "1h", "--to", TO], env, Date.now());
    } catch (err) {
      if (err instanceof ConfigError) return [...err.problems];
      throw err;
    }
    return [];
  };

  it.each([
    ["S3_BUCKET_NAME", "192.168.1.1"],
    ["S3_BUCKET_NAME", "s3://bucket"],
    ["S3_PREFIX", "/abs/"],
    ["S3_PREFIX", "tab\there/"],
    ["AWS_REGION", "moon-1"],
    ["S3_REGION", "EU"],
    ["AWS_ENDPOINT_URL", "ftp://x"],
    ["LOG_LEVEL", "loud"],
    ["S3_FORCE_PATH_STYLE", "yes"],
  ])("%s=%j: the same line from the service's config and from replay", (name, value) => {
    const service = problems({ ...REQUIRED, [name]: value }).find((p) => p.startsWith(`${name}=`));
    const cli = cliProblems({ S3_BUCKET_NAME: "my-archive", [name]: value }).find((p) => p.startsWith(`${name}=`));
    expect(service).toBeDefined();
    expect(cli).toBe(service);
  });

  it("the CLI reports every configuration problem in one pass", () => {
    expect(cliProblems({ S3_BUCKET_NAME: "Bad_Bucket", AWS_REGION: "moon", LOG_LEVEL: "loud", AWS_ENDPOINT_URL: "nope" })).toHaveLength(4);
  });
});
