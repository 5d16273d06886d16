import { hash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import {
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
} from "@aws-sdk/client-s3";
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
      /** True when every attempt's outcome was unknown and HeadObject then found this very object stored. */
      confirmedByCheck?: boolean;
    }
  | { outcome: "duplicate"; bytes: number; attempts: number };

/** What asking S3 about a write whose outcome is unknown found (sqs_archiver_write_outcome_checks_total{result}). */
export type OutcomeCheck = "stored" | "absent" | "unknown";

export interface WriteOptions {
  contentType?: string;
  contentEncoding?: string;
  /** Bound on the HeadObject asked after a write whose outcome is unknown (the write's own signal may be spent). */
  checkTimeoutMs?: () => number;
  /** Told the result of each such check. */
  onCheck?: (result: OutcomeCheck, key: string) => void;
}

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
    object: WriteOptions = {},
  ): Promise<WriteResult> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const headers = {
      ...(object.contentType ? { ContentType: object.contentType } : {}),
      ...(object.contentEncoding ? { ContentEncoding: object.contentEncoding } : {}),
    };
    const contentMd5 = hash("md5", body, "base64");
    let attempts = 0;
    // Whether any attempt so far may have stored the object (no answer, a 500, a 409 race) without our hearing it.
    let outcomeOpen = false;
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
        outcomeOpen ||= attemptLog.some(mayHaveStored) || attemptLog.length < callAttempts;
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
        if (outcomeOpen || reason === "conditional_conflict") {
          // Declaring this write failed would redeliver messages whose object may exist, and in ndjson mode store them
          // again under another key: ask S3 first. An object at the key holds exactly these messages (message mode:
          // its id; ndjson: the hash of the batch's ids), so its existence alone makes them durable.
          const found = await this.check(key, body, contentMd5, object);
          object.onCheck?.(found === null ? "unknown" : found ? "stored" : "absent", key);
          if (found) return found.ours ? { outcome: "archived", bytes: body.length, attempts, confirmedByCheck: true } : { outcome: "duplicate", bytes: body.length, attempts };
        }
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

  /**
   * Whether the object exists at `key` (null: could not tell). `ours` when its size matches and its ETag is our MD5 or
   * is not an MD5 at all (SSE-KMS objects). HeadObject needs s3:GetObject; a role with only s3:PutObject and
   * s3:ListBucket gets 403, so the same question is then asked with ListObjectsV2 on the key as prefix.
   */
  private async check(key: string, body: Buffer, contentMd5: string, o: WriteOptions): Promise<{ ours: boolean } | false | null> {
    const signal = AbortSignal.timeout(o.checkTimeoutMs?.() ?? 5_000);
    const matches = (size: number | undefined, etag: string | undefined) =>
      size === body.length && (etag === undefined || etag === md5Etag(contentMd5) || !/^"[0-9a-f]{32}"$/.test(etag));
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.base.Bucket, Key: key }), { abortSignal: signal });
      return { ours: matches(head.ContentLength, head.ETag) };
    } catch (err) {
      const status = (err as AwsError).$metadata?.httpStatusCode;
      if (status === 404 || (err as AwsError).name === "NotFound") return false;
      if (status !== 403) return null;
    }
    try {
      const list = await this.s3.send(new ListObjectsV2Command({ Bucket: this.base.Bucket, Prefix: key, MaxKeys: 1 }), { abortSignal: signal });
      const hit = list.Contents?.find((c) => c.Key === key);
      return hit ? { ours: matches(hit.Size, hit.ETag) } : false;
    } catch {
      return null;
    }
  }
}

/** The ETag S3 gives a single-part object stored without SSE-KMS: the hex MD5 of its bytes, quoted. */
function md5Etag(contentMd5: string): string {
  return `"${Buffer.from(contentMd5, "base64").toString("hex")}"`;
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
