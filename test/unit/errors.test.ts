import { describe, expect, it } from "vitest";
import { classifyAwsError, isRetryableReason, isSinkFatalReason, describeError, ConfigError } from "../../src/errors.js";

const aws = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

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
