import { describe, expect, it } from "vitest";
import {
  bucketRegionFromError,
  classifyAwsError,
  describeWrongRegion,
  isRetryableReason,
  isSinkFatalReason,
  describeError,
  ConfigError,
} from "../../src/errors.js";

const aws = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

/** As the SDK builds it: `$response` is a non-enumerable property of service exceptions. */
function withResponse<T extends object>(err: T, statusCode: number, headers: Record<string, string>): T {
  Object.defineProperty(err, "$response", { value: { statusCode, headers }, enumerable: false });
  return err;
}

describe("classifyAwsError", () => {
  it.each([
    [aws("SlowDown", 503), "throttled"],
    [aws("ThrottlingException", 400), "throttled"],
    [aws("RequestThrottled", 403), "throttled"],
    [aws("Whatever", 400, { $retryable: { throttling: true } }), "throttled"],
    [aws("AWS.SimpleQueueService.NonExistentQueue", 400), "queue_not_found"],
    [aws("QueueDoesNotExist", 400), "queue_not_found"],
    [aws("NoSuchBucket", 404), "bucket_not_found"],
    [aws("AccessDenied", 403), "access_denied"],
    [aws("InvalidAccessKeyId", 403), "credentials"],
    [aws("InternalError", 500), "server_error"],
    [aws("ServiceUnavailable", 503), "server_error"],
    [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "connection"],
    [Object.assign(new Error("x"), { name: "TimeoutError" }), "timeout"],
    [Object.assign(new Error("x"), { name: "AbortError" }), "aborted"],
    [aws("InvalidParameterValue", 400), "client_error"],
    [new Error("mystery"), "unknown"],
  ])("%s -> %s", (err, reason) => {
    expect(classifyAwsError(err)).toBe(reason);
  });

  describe("KMS throttling is throttling, not a KMS key problem", () => {
    it.each([
      [aws("KmsThrottled", 400), "throttled"], // SQS, SSE-KMS queue
      [aws("KMS.ThrottlingException", 503), "throttled"], // S3, SSE-KMS write
      [aws("KMSThrottlingException", 400), "throttled"],
      [aws("KmsThrottlingException", 400), "throttled"],
      [aws("KMS.DisabledException", 400), "kms"],
      [aws("KMS.NotFoundException", 400), "kms"],
    ])("%s -> %s", (err, reason) => {
      expect(classifyAwsError(err)).toBe(reason);
    });

    it("a throttled KMS call is retryable and does not fail readiness", () => {
      const reason = classifyAwsError(aws("KmsThrottled", 400));
      expect(isRetryableReason(reason)).toBe(true);
      expect(isSinkFatalReason(reason)).toBe(false);
    });
  });

  describe("a bucket in another region", () => {
    it.each([
      ["301 PermanentRedirect (PutObject)", withResponse(aws("PermanentRedirect", 301, { Endpoint: "b.s3.eu-west-1.amazonaws.com" }), 301, { "x-amz-bucket-region": "eu-west-1" })],
      ["301 without a body (HeadBucket)", withResponse(aws("Unknown", 301), 301, { "x-amz-bucket-region": "eu-west-1" })],
      [
        "400 AuthorizationHeaderMalformed",
        Object.assign(new Error("The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"), {
          name: "AuthorizationHeaderMalformed",
          Region: "eu-west-1",
          $metadata: { httpStatusCode: 400 },
        }),
      ],
      ["400 without a body (HeadBucket)", withResponse(aws("Unknown", 400), 400, { "x-amz-bucket-region": "eu-west-1" })],
      ["IllegalLocationConstraintException", aws("IllegalLocationConstraintException", 400)],
    ])("%s -> wrong_region, bucket-wide", (_label, err) => {
      expect(classifyAwsError(err)).toBe("wrong_region");
      expect(isSinkFatalReason("wrong_region")).toBe(true);
      expect(isRetryableReason("wrong_region")).toBe(false);
    });

    it("AuthorizationHeaderMalformed for another reason stays a client error", () => {
      expect(classifyAwsError(aws("AuthorizationHeaderMalformed", 400))).toBe("client_error");
    });

    it("finds the bucket's region in the header, the Region field, the redirect endpoint or the message", () => {
      expect(bucketRegionFromError(withResponse(aws("Unknown", 301), 301, { "x-amz-bucket-region": "ap-southeast-2" }))).toBe("ap-southeast-2");
      expect(bucketRegionFromError(aws("AuthorizationHeaderMalformed", 400, { Region: "eu-central-1" }))).toBe("eu-central-1");
      expect(bucketRegionFromError(aws("PermanentRedirect", 301, { Endpoint: "bucket.s3.us-west-2.amazonaws.com" }))).toBe("us-west-2");
      expect(bucketRegionFromError(new Error("the region 'us-east-1' is wrong; expecting 'eu-north-1'"))).toBe("eu-north-1");
      expect(bucketRegionFromError(aws("PermanentRedirect", 301))).toBeUndefined();
    });

    it("describes the fix", () => {
      expect(describeWrongRegion("us-east-1", "eu-west-1")).toBe("bucket is in eu-west-1, the S3 client uses us-east-1: set S3_REGION=eu-west-1");
      expect(describeWrongRegion("us-east-1", undefined)).toContain("not in us-east-1");
    });
  });

  it("separates transient from destination-wide failures", () => {
    expect(isRetryableReason("throttled")).toBe(true);
    expect(isRetryableReason("bucket_not_found")).toBe(false);
    expect(isSinkFatalReason("bucket_not_found")).toBe(true);
    expect(isSinkFatalReason("access_denied")).toBe(true);
    expect(isSinkFatalReason("server_error")).toBe(false);
  });

  it("describes errors with a stable code", () => {
    expect(describeError(new ConfigError(["A: bad"]))).toEqual({ code: "CONFIG_INVALID", message: "invalid configuration: A: bad" });
    expect(describeError(aws("NoSuchBucket", 404)).code).toBe("NoSuchBucket");
  });
});
