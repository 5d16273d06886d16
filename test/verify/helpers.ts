/**
 * Shared by the verify suites: an archive written by the real service in both layouts and every codec, objects
 * planted by direct PutObject, and the CLI run as a user runs it.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
// ajv 8 is installed as fastify's own validator (@fastify/ajv-compiler): a devDependency of the same name would be
// flagged by the production-install test, which forbids devDependencies in the runtime image.
import { Ajv } from "ajv";
import type { Envelope } from "../../src/archive/envelope.js";
import type { ArchiveCompression } from "../../src/config.js";
import { waitFor, type Backend } from "../support/harness.js";
import { serviceEnv, spawnService } from "../support/process.js";
import { readAllLines } from "../support/archive-reader.js";
import { cliEnv, compress, runCli } from "../replay/helpers.js";

export const BUCKET = "verify-archive";

/** The layouts and codecs the service writes, one prefix each. */
export const LAYOUTS: Array<{ prefix: string; env: Record<string, string> }> = [
  { prefix: "msg/", env: { ARCHIVE_FORMAT: "message" } },
  { prefix: "gz/", env: { ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: "gzip", BATCH_MAX_SECONDS: "1", BATCH_MAX_MESSAGES: "7" } },
  { prefix: "zst/", env: { ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: "zstd", BATCH_MAX_SECONDS: "1", BATCH_MAX_MESSAGES: "7" } },
  { prefix: "none/", env: { ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: "none", BATCH_MAX_SECONDS: "1", BATCH_MAX_MESSAGES: "7" } },
];

const ATTRS: Record<string, MessageAttributeValue> = {
  s: { DataType: "String", StringValue: "grüße <b>&amp;</b>" },
  b: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 0xfe, 0xff, 10]) },
};

/** Sends `count` messages per layout through the real service and waits until each prefix holds them all. */
export async function archiveWithService(backend: Backend, count: number): Promise<Map<string, Envelope[]>> {
  const services = [];
  for (const l of LAYOUTS) {
    const q = await backend.createQueue(`q-${l.prefix.slice(0, -1)}`);
    services.push(spawnService(serviceEnv(backend, { S3_BUCKET_NAME: BUCKET, S3_PREFIX: l.prefix, SQS_QUEUE_URL: q, CONCURRENCY: "2", LOG_LEVEL: "warn", ...l.env })));
    for (let i = 0; i < count; i++) await backend.send(q, i % 5 === 0 ? `{"n":${i},"html":"<script>alert(1)</script>"}` : `message ${i} of ${l.prefix}`, ATTRS);
  }
  const out = new Map<string, Envelope[]>();
  try {
    await waitFor(
      async () => {
        for (const l of LAYOUTS) out.set(l.prefix, (await readAllLines(backend, BUCKET, l.prefix)).map((x) => x.envelope as Envelope));
        return LAYOUTS.every((l) => out.get(l.prefix)?.length === count);
      },
      60_000,
      300,
    );
  } finally {
    for (const s of services) s.child.kill("SIGTERM");
    await Promise.all(services.map((s) => s.exited));
  }
  return out;
}

export async function putRaw(backend: Backend, key: string, body: string | Buffer, metadata?: Record<string, string>): Promise<string> {
  await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
  return key;
}

/** An NDJSON object under an exact key (the test names it: a wrong hash, a count in the metadata). */
export async function putLines(backend: Backend, key: string, lines: string[], compression: ArchiveCompression, metadata?: Record<string, string>): Promise<string> {
  return putRaw(backend, key, await compress(Buffer.from(`${lines.join("\n")}\n`, "utf8"), compression), metadata);
}

export async function objectsUnder(backend: Backend, prefix: string): Promise<{ count: number; bytes: number }> {
  const out = await backend.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return { count: out.KeyCount ?? 0, bytes: (out.Contents ?? []).reduce((n, o) => n + (o.Size ?? 0), 0) };
}

export interface VerifyRun {
  code: number | null;
  stdout: string[];
  stderr: string[];
  report: Record<string, any>;
}

/** `sqs-archiver verify --json …`: stdout must be exactly one JSON document. */
export async function verifyJson(backend: Backend, args: string[]): Promise<VerifyRun> {
  const r = await runCli(["verify", "--json", ...args], cliEnv(backend, { S3_BUCKET_NAME: BUCKET, LOG_LEVEL: "warn" }));
  if (r.stdout.length !== 1) throw new Error(`expected one JSON document on stdout, got ${r.stdout.length} lines:\n${r.stdout.join("\n")}\n${r.stderr.join("\n")}`);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, report: JSON.parse(r.stdout[0] as string) as Record<string, any> };
}

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL("../../docs/verify-report.schema.json", import.meta.url)), "utf8")) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

/** Throws with ajv's errors when the document does not match docs/verify-report.schema.json. */
export function assertSchema(doc: unknown): void {
  if (!validate(doc)) throw new Error(`report does not match docs/verify-report.schema.json: ${JSON.stringify(validate.errors, null, 2)}`);
}
