import { hash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { PutObjectCommand, type S3Client, type PutObjectCommandInput, type PutObjectCommandOutput } from "@aws-sdk/client-s3";
import type { DeserializeHandler, DeserializeHandlerArguments } from "@smithy/types";
import { ArchiveWriteError, bucketRegionFromError, classifyAwsError, describeWrongRegion, isRetryableReason, isSinkFatalReason } from "../errors.js";
import type { Config } from "../config.js";

export type WriteResult =
  | {
      outcome: "archived";
      bytes: number;
      attempts: number;
      /**
       * True when S3 answered 412 to an SDK retry of this very write after an earlier attempt's response was lost
       * (connection reset, timeout, 500): that earlier attempt stored the object, so this is an archive, not a
       * duplicate delivery.
       */
      retriedAfterLostResponse?: boolean;
    }
  | { outcome: "duplicate"; bytes: number; attempts: number };

interface AwsError {
  name?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const CONFLICT_RETRIES = 3;

/** What each SDK attempt of one PutObject ended with: an HTTP status, or undefined when no response arrived. */
type AttemptLog = Array<number | undefined>;

/**
 * Whether an attempt that ended this way may have stored the object although the SDK saw no success: no response at
 * all (reset, timeout: the request may have completed on S3's side) or a 500 (S3 may have committed the write before
 * failing). A 503 SlowDown or any 4xx is a definite rejection: nothing was stored.
 */
function mayHaveStored(status: number | undefined): boolean {
  return status === undefined || status === 500;
}

/**
 * Writes one archive object, write-once. `If-None-Match: *` makes S3 answer 412 when the key already exists: that is
 * an earlier delivery of the same message, so the result is "duplicate" and nothing is overwritten. A 409
 * ConditionalRequestConflict means another writer raced us on the same key: retried, and it then resolves to 412.
 *
 * One exception: the SDK retries a PutObject whose response was lost (connection reset after S3 stored it). The retry
 * then gets 412 from the object its own first attempt wrote. The writer records how each attempt of the call ended
 * (a per-command middleware inside the retry loop) and reports such a 412 as "archived" with
 * `retriedAfterLostResponse`, so the archive is counted once as archived and never as a duplicate delivery.
 */
export class S3Writer {
  private readonly base: Pick<PutObjectCommandInput, "Bucket" | "ContentType" | "ServerSideEncryption" | "SSEKMSKeyId" | "StorageClass">;
  private readonly region: string;

  constructor(
    private readonly s3: S3Client,
    config: Config,
  ) {
    this.region = config.s3Region;
    this.base = {
      Bucket: config.bucket,
      ContentType: "application/json",
      ...(config.sse !== "none" ? { ServerSideEncryption: config.sse } : {}),
      ...(config.sse === "aws:kms" && config.kmsKeyId ? { SSEKMSKeyId: config.kmsKeyId } : {}),
      ...(config.storageClass !== "STANDARD" ? { StorageClass: config.storageClass } : {}),
    };
  }

  /**
   * `content` is the object: a JSON string (one message), or bytes with their own `contentType`/`contentEncoding`
   * (a compressed NDJSON batch).
   */
  async write(
    key: string,
    content: string | Buffer,
    metadata: Record<string, string>,
    signal?: AbortSignal,
    object: { contentType?: string; contentEncoding?: string } = {},
  ): Promise<WriteResult> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const headers = {
      ...(object.contentType ? { ContentType: object.contentType } : {}),
      ...(object.contentEncoding ? { ContentEncoding: object.contentEncoding } : {}),
    };
    const contentMd5 = hash("md5", body, "base64");
    let attempts = 0;
    for (let conflict = 0; ; conflict++) {
      const command = new PutObjectCommand({
        ...this.base,
        ...headers,
        Key: key,
        Body: body,
        ContentLength: body.length,
        // The integrity check S3 validates (the client computes no CRC32: see aws-clients.ts).
        ContentMD5: contentMd5,
        IfNoneMatch: "*",
        Metadata: metadata,
      });
      const attemptLog: AttemptLog = [];
      recordAttempts(command, attemptLog);
      try {
        const out = await this.s3.send(command, signal ? { abortSignal: signal } : {});
        attempts += out.$metadata.attempts ?? 1;
        return { outcome: "archived", bytes: body.length, attempts };
      } catch (err) {
        const e = err as AwsError;
        const callAttempts = e.$metadata?.attempts ?? 1;
        attempts += callAttempts;
        const status = e.$metadata?.httpStatusCode;
        if (status === 412 || e.name === "PreconditionFailed") {
          if (storedByEarlierAttempt(callAttempts, attemptLog)) {
            return { outcome: "archived", bytes: body.length, attempts, retriedAfterLostResponse: true };
          }
          return { outcome: "duplicate", bytes: body.length, attempts };
        }
        if ((status === 409 || e.name === "ConditionalRequestConflict") && conflict < CONFLICT_RETRIES) {
          await delay(50 * 2 ** conflict, undefined, signal ? { signal } : {});
          continue;
        }
        const reason = status === 409 ? "conditional_conflict" : classifyAwsError(err);
        const detail = reason === "wrong_region" ? describeWrongRegion(this.region, bucketRegionFromError(err)) : undefined;
        throw new ArchiveWriteError(
          reason,
          `PutObject ${key} failed: ${e.name ?? "Error"}${detail ? ` (${detail})` : ""}`,
          err,
          isRetryableReason(reason) || reason === "conditional_conflict",
          isSinkFatalReason(reason),
          detail,
        );
      }
    }
  }
}

/**
 * A 412 on the last attempt of a call whose earlier attempts may have stored the object. Without the per-attempt log
 * (middleware not run), more than one attempt is taken as that: the SDK only retries after a failure that left the
 * outcome open or a throttle.
 */
function storedByEarlierAttempt(callAttempts: number, log: AttemptLog): boolean {
  if (callAttempts <= 1) return false;
  if (log.length < callAttempts) return true;
  return log.slice(0, -1).some(mayHaveStored);
}

/** Adds a middleware that runs once per SDK attempt (inside the retry loop) and logs how the attempt ended. */
function recordAttempts(command: PutObjectCommand, log: AttemptLog): void {
  command.middlewareStack.add(
    (next: DeserializeHandler<PutObjectCommandInput, PutObjectCommandOutput>) =>
      async (args: DeserializeHandlerArguments<PutObjectCommandInput>) => {
        try {
          const out = await next(args);
          log.push((out.response as { statusCode?: number } | undefined)?.statusCode ?? 200);
          return out;
        } catch (err) {
          const e = err as { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } };
          log.push(e.$metadata?.httpStatusCode ?? e.$response?.statusCode);
          throw err;
        }
      },
    { step: "deserialize", name: "sqsArchiverAttemptLog", priority: "high" },
  );
}
