import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { requestHandler } from "../aws/aws-clients.js";

/**
 * The compactor's S3 side: its client, write-once PUTs and listing a compacted hour. S3 commands sent: ListObjectsV2,
 * GetObject (through src/archive/read.ts and compacted-read.ts) and PutObject with If-None-Match: * — never a
 * delete, never an overwrite (iam/policy-compact.json grants exactly these).
 */

export interface CompactAwsSettings {
  s3Region: string;
  s3Endpoint: string | undefined;
  s3ForcePathStyle: boolean;
  sockets: number;
}

export function createCompactS3(s: CompactAwsSettings): S3Client {
  return new S3Client({
    region: s.s3Region,
    credentials: fromNodeProviderChain(),
    ...(s.s3Endpoint ? { endpoint: s.s3Endpoint } : {}),
    forcePathStyle: s.s3ForcePathStyle,
    // Integrity: each PUT carries Content-MD5 of the file (computed here), reads are checked per envelope MD5.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 4,
    retryMode: "standard",
    requestHandler: requestHandler(s.sockets, 300_000),
  });
}

async function fileMd5(file: string): Promise<string> {
  const h = createHash("md5");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("base64");
}

/** 412 (the key exists) or 409 (a concurrent conditional write to it): someone else holds the key. */
export function isKeyTaken(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return status === 412 || status === 409 || e?.name === "PreconditionFailed" || e?.name === "ConditionalRequestConflict";
}

/** PutObject If-None-Match: * of a file or a small buffer: "written", or "exists" when the key was taken. */
export async function putIfAbsent(
  s3: S3Client,
  bucket: string,
  key: string,
  body: { file: string } | { data: Buffer },
  contentType: string,
  signal?: AbortSignal,
): Promise<"written" | "exists"> {
  const isFile = "file" in body;
  const length = isFile ? (await stat(body.file)).size : body.data.length;
  const md5 = isFile ? await fileMd5(body.file) : createHash("md5").update(body.data).digest("base64");
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: isFile ? createReadStream(body.file) : body.data,
        ContentLength: length,
        ContentMD5: md5,
        ContentType: contentType,
        IfNoneMatch: "*",
      }),
      { abortSignal: signal },
    );
    return "written";
  } catch (err) {
    if (isKeyTaken(err)) return "exists";
    throw err;
  }
}

/** Every key (with ETag and size) under prefix. */
export async function listAll(s3: S3Client, bucket: string, prefix: string, counters: { listRequests: number }, signal?: AbortSignal): Promise<Array<{ key: string; etag: string; size: number }>> {
  const out: Array<{ key: string; etag: string; size: number }> = [];
  let token: string | undefined;
  do {
    counters.listRequests++;
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, etag: o.ETag ?? "", size: o.Size ?? 0 });
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}
