/**
 * Helpers for the reliability suite: run the real built process (dist/main.js) as a child against a backend that
 * lives in the test process (so the emulator survives a kill -9 of the service), and check the archive against what
 * was sent: one object per message id, exact bodies, nothing left in the queue.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { REGION, TEST_CREDENTIALS, waitFor, type Backend } from "./harness.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this suite (npm test does)`);
}

export interface ChildService {
  child: ChildProcess;
  /** Every stdout line (JSON log lines) and stderr line, as received. */
  stdout: string[];
  stderr: string[];
  logs(): Record<string, unknown>[];
  events(name: string): Record<string, unknown>[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** http://127.0.0.1:PORT of the probe server, known once the "started" line appeared. */
  base(): Promise<string>;
}

/** The environment a pod would have, pointed at the proxy; `extra` overrides (set a key to "" to unset it). */
export function serviceEnv(backend: Backend, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: backend.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    // No profile files or instance metadata lookups from the test machine.
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    HEALTH_PORT: "0",
    WAIT_TIME_SECONDS: "1",
    LOG_LEVEL: "info",
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === "") delete env[k];
    else env[k] = v;
  }
  return env;
}

export function spawnService(env: NodeJS.ProcessEnv, args: string[] = []): ChildService {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const split = (into: string[]) => {
    let rest = "";
    return (chunk: Buffer) => {
      const text = rest + chunk.toString("utf8");
      const lines = text.split("\n");
      rest = lines.pop() ?? "";
      into.push(...lines.filter(Boolean));
    };
  };
  child.stdout?.on("data", split(stdout));
  child.stderr?.on("data", split(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const logs = () => {
    const out: Record<string, unknown>[] = [];
    for (const l of stdout) {
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
    return out;
  };
  return {
    child,
    stdout,
    stderr,
    logs,
    events: (name) => logs().filter((l) => l.event === name),
    exited,
    async base() {
      const started = await waitFor(() => logs().find((l) => l.event === "started"), 15_000);
      return `http://127.0.0.1:${String(started.healthPort)}`;
    },
  };
}

/** Kills the child if it is still running (afterAll safety net). */
export async function ensureDead(svc: ChildService | undefined): Promise<void> {
  if (!svc || svc.child.exitCode !== null || svc.child.signalCode !== null) return;
  svc.child.kill("SIGKILL");
  await svc.exited;
}

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
