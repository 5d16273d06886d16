/**
 * Runs the real built process (`node dist/main.js`, as the container does: no npm in the signal path) as a child,
 * against a backend that lives in the test process, so the emulator survives a kill -9 of the service.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll } from "vitest";
import { REGION, TEST_CREDENTIALS, useBackend, waitFor, type Backend } from "./harness.js";

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

/** A minimal environment: nothing from the test machine's AWS setup (profiles, instance metadata) leaks in. */
export function isolatedEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    ...vars,
  };
}

/** The environment a pod would have, pointed at the proxy; `extra` overrides (set a key to "" to unset it). */
export function serviceEnv(backend: Backend, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = isolatedEnv({
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: backend.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    HEALTH_PORT: "0",
    WAIT_TIME_SECONDS: "1",
    LOG_LEVEL: "info",
  });
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * For a describe block that drives the real process: one emulator + proxy (with `bucket` created) for the block, and
 * every process a test spawns killed after that test, with the proxy's faults and rewrites cleared.
 */
export function useRealProcess(bucket: string): { backend: Backend; spawn(env: NodeJS.ProcessEnv, args?: string[]): ChildService } {
  const backend = useBackend(bucket);
  const children: ChildService[] = [];
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    for (const c of children.splice(0)) await ensureDead(c);
    backend.proxy.clearFaults();
    backend.proxy.setTransforms({});
  });
  return {
    backend,
    spawn(env, args = []) {
      const c = spawnService(env, args);
      children.push(c);
      return c;
    },
  };
}
