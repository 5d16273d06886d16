/**
 * Shared by the replay suites: spawn the real CLI (`node dist/cli/cli.js`), receive everything from a queue, and
 * write NDJSON archive objects the way the batched writer lays them out.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from "@aws-sdk/client-sqs";
import { buildBatchKey, createCompressor } from "../../src/archive/format.js";
import type { ArchiveCompression } from "../../src/config.js";
import type { Envelope } from "../../src/archive/envelope.js";
import { REGION, TEST_CREDENTIALS, type Backend } from "../support/harness.js";
import { isolatedEnv } from "../support/process.js";

export const CLI = fileURLToPath(new URL("../../dist/cli/cli.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliRun {
  child: ReturnType<typeof spawn>;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  events(name: string): Record<string, any>[];
  summary(): Record<string, any> | undefined;
}

/** The CLI's environment: the emulator (through the proxy, so requests are counted), dummy credentials. */
export function cliEnv(backend: Backend, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return isolatedEnv({
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: backend.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    ...extra,
  });
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const split = (into: string[]) => {
    let rest = "";
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop() ?? "";
      into.push(...lines.filter(Boolean));
    };
  };
  child.stdout.on("data", split(stdout));
  child.stderr.on("data", split(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  const logs = () =>
    stdout.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, any>];
      } catch {
        return [];
      }
    });
  return { child, stdout, stderr, exited, events: (name) => logs().filter((l) => l.event === name), summary: () => logs().find((l) => l.event === "replay_summary") };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun & { code: number | null }> {
  const r = spawnCli(args, env);
  const { code } = await r.exited;
  return { ...r, code };
}

/** Receives (and deletes) until `count` messages arrived and the queue stays empty for `quietMs`. */
export async function receiveAll(backend: Backend, queueUrl: string, count: number, timeoutMs = 20_000, quietMs = 400): Promise<Message[]> {
  const out: Message[] = [];
  const end = Date.now() + timeoutMs;
  let lastNonEmpty = Date.now();
  while (Date.now() < end) {
    const r = await backend.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"], VisibilityTimeout: 30 }),
    );
    const msgs = r.Messages ?? [];
    if (msgs.length) {
      out.push(...msgs);
      lastNonEmpty = Date.now();
      await backend.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle as string })) }));
    } else {
      if (out.length >= count && Date.now() - lastNonEmpty >= quietMs) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return out;
}

/** Writes envelopes as one batched NDJSON object, keyed and compressed as the batched writer does. */
export async function putNdjson(backend: Backend, bucket: string, prefix: string, envelopes: Envelope[], compression: ArchiveCompression, extraLines: string[] = []): Promise<string> {
  const first = Math.min(...envelopes.map((e) => Number(e.attributes.SentTimestamp)));
  const key = buildBatchKey(prefix, first, envelopes.map((e) => e.messageId), compression);
  const text = [...envelopes.map((e) => JSON.stringify(e)), ...extraLines].join("\n") + "\n";
  const body = await compress(Buffer.from(text, "utf8"), compression);
  await backend.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/x-ndjson" }));
  return key;
}

export async function compress(data: Buffer, compression: ArchiveCompression): Promise<Buffer> {
  const c = createCompressor(compression);
  if (!c) return data;
  const chunks: Buffer[] = [];
  c.on("data", (b: Buffer) => chunks.push(b));
  const done = new Promise((resolve, reject) => {
    c.on("end", resolve);
    c.on("error", reject);
  });
  c.end(data);
  await done;
  return Buffer.concat(chunks);
}

/** Message attributes as comparable plain values (Binary as base64). */
export function plainAttributes(m: Message, drop: string[] = []): Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string }> {
  const out: Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string }> = {};
  for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) {
    if (drop.includes(k)) continue;
    out[k] = { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue !== undefined ? { BinaryValue: Buffer.from(v.BinaryValue).toString("base64") } : {}) };
  }
  return out;
}
