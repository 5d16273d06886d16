import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config.js";
import { bucketRegionFromError, classifyAwsError, describeError, describeWrongRegion } from "../errors.js";
import type { Logger } from "../logger.js";

export interface QueueInfo {
  visibilityTimeoutSeconds?: number;
  redrivePolicy?: { deadLetterTargetArn?: string; maxReceiveCount?: number };
  fifo: boolean;
}

/**
 * Confirms the queue exists and logs what an operator needs to know about it (redrive policy, visibility). Never
 * fatal: a missing queue or denied call is logged with a stable reason, readiness stays false and the receive loops
 * keep retrying with backoff, so a queue created later is picked up without a crash loop.
 */
export async function preflight(sqs: SQSClient, config: Config, log: Logger, signal?: AbortSignal): Promise<QueueInfo | undefined> {
  const parts = new URL(config.queueUrl).pathname.split("/").filter(Boolean);
  const [account, name] = [parts[0] as string, parts[1] as string];
  const opts = signal ? { abortSignal: signal } : {};
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: name, ...(/^\d{12}$/.test(account) ? { QueueOwnerAWSAccountId: account } : {}) }), opts);
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: config.queueUrl, AttributeNames: ["VisibilityTimeout", "RedrivePolicy", "FifoQueue"] }),
      opts,
    );
    const a = out.Attributes ?? {};
    const info: QueueInfo = { fifo: a.FifoQueue === "true" || name.endsWith(".fifo") };
    if (a.VisibilityTimeout) info.visibilityTimeoutSeconds = Number(a.VisibilityTimeout);
    if (a.RedrivePolicy) {
      try {
        info.redrivePolicy = JSON.parse(a.RedrivePolicy) as QueueInfo["redrivePolicy"];
      } catch {
        /* malformed policy: reported as absent below */
      }
    }
    log.info({ event: "queue_checked", queueUrl: config.queueUrl, ...info }, "queue reachable");
    if (!info.redrivePolicy) {
      log.warn(
        { event: "no_redrive_policy", queueUrl: config.queueUrl },
        "queue has no redrive policy: a message that can never be archived will be retried until retention expires",
      );
    }
    return info;
  } catch (err) {
    log.error({ event: "queue_check_failed", queueUrl: config.queueUrl, reason: classifyAwsError(err), err: describeError(err) }, "queue check failed; receive loops will retry");
    return undefined;
  }
}

export type BucketCheck =
  /** The bucket answered from the configured region (region as S3 reported it, when it did). */
  | { status: "ok"; region: string | undefined }
  /** S3 says the bucket lives in another region: every write will fail until S3_REGION names it. */
  | { status: "wrong_region"; expectedRegion: string; actualRegion: string | undefined; detail: string }
  /** Could not tell (missing bucket, denied, network): logged; the writes will report their own reasons. */
  | { status: "unknown"; reason: string };

function headerOf(err: unknown, name: string): string | undefined {
  const h = (err as { $response?: { headers?: Record<string, string | undefined> } })?.$response?.headers;
  return h?.[name];
}

/**
 * HeadBucket's answers have no body, so the SDK cannot name a missing bucket (NotFound on S3, UnknownError on some
 * emulators): for this request a 404 can only mean the bucket does not exist.
 */
function headBucketReason(err: unknown): string {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status === 404 ? "bucket_not_found" : classifyAwsError(err);
}

/**
 * Checks at start-up that the bucket is in the region the S3 client signs for, with HeadBucket (s3:ListBucket on the
 * bucket). S3 reports the bucket's region in `x-amz-bucket-region` on success and also on 301 and 403 answers, so the
 * region is checked even when the role lacks s3:ListBucket. Never fatal: a wrong region is logged with the expected
 * and actual region and returned, so the caller can fail readiness with that reason at once instead of after the
 * first failed write.
 */
export async function checkBucket(s3: S3Client, config: Config, log: Logger, signal?: AbortSignal): Promise<BucketCheck> {
  const expected = config.s3Region;
  let actual: string | undefined;
  let failure: unknown;
  try {
    const out = await s3.send(new HeadBucketCommand({ Bucket: config.bucket }), signal ? { abortSignal: signal } : {});
    actual = out.BucketRegion;
  } catch (err) {
    failure = err;
    actual = bucketRegionFromError(err) ?? headerOf(err, "x-amz-bucket-region");
  }
  const reason = failure === undefined ? undefined : headBucketReason(failure);
  if (reason === "aborted") return { status: "unknown", reason };
  if ((actual !== undefined && actual !== expected) || reason === "wrong_region") {
    const detail = describeWrongRegion(expected, actual);
    log.error(
      { event: "bucket_wrong_region", bucket: config.bucket, expectedRegion: expected, actualRegion: actual ?? null, err: failure ? describeError(failure) : undefined },
      `S3 bucket ${config.bucket} is not in ${expected}: ${detail}`,
    );
    return { status: "wrong_region", expectedRegion: expected, actualRegion: actual, detail };
  }
  if (reason === undefined || (reason === "access_denied" && actual === expected)) {
    // 403 with the region header: the role lacks s3:ListBucket, but the region is confirmed.
    log.info({ event: "bucket_checked", bucket: config.bucket, region: actual ?? expected, reportedRegion: actual ?? null }, "bucket reachable in the configured region");
    return { status: "ok", region: actual };
  }
  const fields = { event: "bucket_check_failed", bucket: config.bucket, expectedRegion: expected, reason, err: describeError(failure) };
  if (reason === "bucket_not_found") log.error(fields, `S3 bucket ${config.bucket} does not exist; every write will fail until it is created`);
  else log.warn(fields, "bucket check failed; writes will report their own failures");
  return { status: "unknown", reason };
}
