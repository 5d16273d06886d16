/**
 * Reads every archive object under a prefix, in both layouts, straight from the emulator: one envelope per
 * message-layout object, one per line of an ndjson object (gzip, zstd or none, told by the key). Tests compare what
 * they sent with what this returns, so it decodes with node:zlib's one-shot functions, independently of the
 * service's streaming codec.
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { parseArchiveKey } from "../../src/archive/format.js";
import type { Backend } from "./harness.js";

export interface ArchivedLine {
  key: string;
  line: number;
  envelope: Record<string, any>;
}

export async function getBytes(backend: Backend, bucket: string, key: string): Promise<Buffer> {
  const out = await backend.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

export async function headObject(backend: Backend, bucket: string, key: string) {
  return backend.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

export function decodeObject(key: string, prefix: string, bytes: Buffer): Record<string, any>[] {
  const parsed = parseArchiveKey(prefix, key);
  if (!parsed) throw new Error(`not an archive key: ${key}`);
  if (parsed.layout === "message") return [JSON.parse(bytes.toString("utf8")) as Record<string, any>];
  if (parsed.layout === "parquet") throw new Error(`${key}: a compacted generation (read it with src/archive/compacted-read.ts)`);
  const raw = parsed.compression === "gzip" ? gunzipSync(bytes) : parsed.compression === "zstd" ? zstdDecompressSync(bytes) : bytes;
  const text = raw.toString("utf8");
  if (!text.endsWith("\n")) throw new Error(`${key}: last line not terminated`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** Every archived envelope, with where it was found. */
export async function readAllLines(backend: Backend, bucket: string, prefix: string): Promise<ArchivedLine[]> {
  const keys = await backend.listKeys(bucket, prefix);
  const out: ArchivedLine[] = [];
  for (const key of keys) {
    decodeObject(key, prefix, await getBytes(backend, bucket, key)).forEach((envelope, line) => out.push({ key, line, envelope }));
  }
  return out;
}

/** messageId -> the places it was archived (more than one means a duplicate line). */
export function byMessageId(lines: ArchivedLine[]): Map<string, ArchivedLine[]> {
  const m = new Map<string, ArchivedLine[]>();
  for (const l of lines) {
    const id = l.envelope.messageId as string;
    m.set(id, [...(m.get(id) ?? []), l]);
  }
  return m;
}
