/**
 * Helpers for the reliability suite: check the archive against what was sent (one object per message id, exact
 * bodies, nothing left in the queue). Running the real process is in ./process.ts.
 */
import { expect } from "vitest";
import { waitFor, type Backend } from "./harness.js";

/** messageId -> parsed envelope, read straight from the emulator. Fails on any object that is not an archive. */
export async function readArchive(backend: Backend, bucket: string, prefix: string): Promise<Map<string, Record<string, any>>> {
  const keys = await backend.listKeys(bucket, prefix);
  const out = new Map<string, Record<string, any>>();
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
      const env = JSON.parse(await backend.getText(bucket, key)) as Record<string, any>;
      expect(key.endsWith(`/${String(env.messageId)}.json`), `key ${key} names its message`).toBe(true);
      expect(out.has(env.messageId as string), `second object for ${String(env.messageId)}`).toBe(false);
      out.set(env.messageId as string, env);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

/**
 * The promise of the service: every message sent is in S3 exactly once, byte for byte, and no object exists for a
 * message that was not sent.
 */
export async function expectExactlyOnce(backend: Backend, bucket: string, prefix: string, sent: Map<string, string>): Promise<Map<string, Record<string, any>>> {
  const archive = await readArchive(backend, bucket, prefix);
  const missing = [...sent.keys()].filter((id) => !archive.has(id));
  expect(missing, "messages sent but not archived").toEqual([]);
  const extra = [...archive.keys()].filter((id) => !sent.has(id));
  expect(extra, "objects for messages never sent").toEqual([]);
  for (const [id, body] of sent) {
    const env = archive.get(id) as Record<string, any>;
    if (env.body !== body) expect(env.body, `body of ${id}`).toBe(body);
  }
  return archive;
}

export async function waitForKeys(backend: Backend, bucket: string, prefix: string, n: number, timeoutMs = 30_000): Promise<string[]> {
  return waitFor(async () => {
    const k = await backend.listKeys(bucket, prefix);
    return k.length >= n ? k : undefined;
  }, timeoutMs, 200);
}

/** Waits until the queue holds nothing, visible or in flight. */
export async function waitForDrained(backend: Backend, queueUrl: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const d = await backend.queueDepth(queueUrl);
    return d.visible === 0 && d.inFlight === 0 && d.delayed === 0;
  }, timeoutMs, 100);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends bodies and returns messageId -> body. */
export async function sendAll(backend: Backend, queueUrl: string, bodies: string[], extra?: (i: number) => Record<string, unknown>): Promise<Map<string, string>> {
  const ids = await backend.sendMany(queueUrl, bodies, extra);
  return new Map(ids.map((id, i) => [id, bodies[i] as string]));
}

/** Counts PutObject requests per key that reached the proxy, by piggy-backing on a never-matching fault rule. */
export function countPutsPerKey(counts: Map<string, number>) {
  return {
    match: (op: { name: string; key?: string }) => {
      if (op.name === "PutObject" && op.key) counts.set(op.key, (counts.get(op.key) ?? 0) + 1);
      return false;
    },
    action: { kind: "reset" as const },
  };
}
