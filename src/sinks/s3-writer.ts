import { setTimeout as delay } from "node:timers/promises";
import { PutObjectCommand, type S3Client, type PutObjectCommandInput } from "@aws-sdk/client-s3";
import { ArchiveWriteError, classifyAwsError, isRetryableReason, isSinkFatalReason } from "../errors.js";
import type { Config } from "../config.js";

export type WriteResult =
  | { outcome: "archived"; bytes: number; attempts: number }
  | { outcome: "duplicate"; bytes: number; attempts: number };

interface AwsError {
  name?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const CONFLICT_RETRIES = 3;

/**
 * Writes one archive object, write-once. `If-None-Match: *` makes S3 answer 412 when the key already exists: that is
 * an earlier delivery of the same message, so the result is "duplicate" and nothing is overwritten. A 409
 * ConditionalRequestConflict means another writer raced us on the same key: retried, and it then resolves to 412.
 */
export class S3Writer {
  private readonly base: Pick<PutObjectCommandInput, "Bucket" | "ContentType" | "ServerSideEncryption" | "SSEKMSKeyId" | "StorageClass">;

  constructor(
    private readonly s3: S3Client,
    config: Config,
  ) {
    this.base = {
      Bucket: config.bucket,
      ContentType: "application/json",
      ...(config.sse !== "none" ? { ServerSideEncryption: config.sse } : {}),
      ...(config.sse === "aws:kms" && config.kmsKeyId ? { SSEKMSKeyId: config.kmsKeyId } : {}),
      ...(config.storageClass !== "STANDARD" ? { StorageClass: config.storageClass } : {}),
    };
  }

  async write(key: string, content: string | Buffer, metadata: Record<string, string>, signal?: AbortSignal, contentType?: string): Promise<WriteResult> {
    const body = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    let attempts = 0;
    for (let conflict = 0; ; conflict++) {
      try {
        const out = await this.s3.send(
          new PutObjectCommand({ ...this.base, ...(contentType ? { ContentType: contentType } : {}), Key: key, Body: body, ContentLength: body.length, IfNoneMatch: "*", Metadata: metadata }),
          signal ? { abortSignal: signal } : {},
        );
        attempts += out.$metadata.attempts ?? 1;
        return { outcome: "archived", bytes: body.length, attempts };
      } catch (err) {
        const e = err as AwsError;
        attempts += e.$metadata?.attempts ?? 1;
        const status = e.$metadata?.httpStatusCode;
        if (status === 412 || e.name === "PreconditionFailed") return { outcome: "duplicate", bytes: body.length, attempts };
        if ((status === 409 || e.name === "ConditionalRequestConflict") && conflict < CONFLICT_RETRIES) {
          await delay(50 * 2 ** conflict, undefined, signal ? { signal } : {});
          continue;
        }
        const reason = status === 409 ? "conditional_conflict" : classifyAwsError(err);
        throw new ArchiveWriteError(
          reason,
          `PutObject ${key} failed: ${e.name ?? "Error"}`,
          err,
          isRetryableReason(reason) || reason === "conditional_conflict",
          isSinkFatalReason(reason),
        );
      }
    }
  }
}
