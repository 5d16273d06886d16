/**
 * Reproduces the Dockerfile's runtime stage without Docker: compile src/ like the build stage, install production
 * dependencies only with the deps stage's own `npm ci` command into a fresh folder, copy dist/ and the package
 * manifests as the runtime stage does, then start `node dist/main.js` against an embedded emulator. A runtime
 * dependency declared as a devDependency (or missing) fails here instead of in the cluster.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEALTH_PATH, METRICS_PATH, READY_PATH } from "../../src/http/http-contract.js";
import { freePort } from "../support/process.js";
import { ROOT, run, runOk } from "./helpers.js";

type Fauxqs = Awaited<ReturnType<typeof startFauxqs>>;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** The deps stage's install command, taken from the Dockerfile so the two cannot drift apart. */
function depsInstallCommand(): string[] {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const m = /RUN\s+(?:--mount=\S+\s+)*(npm ci --omit=dev[^\n&]*)/.exec(dockerfile);
  if (!m) throw new Error("Dockerfile has no `npm ci --omit=dev` step");
  return (m[1] as string).trim().split(/\s+/);
}


/** What the production-only install runs with: the image's environment, pointed at the emulator. */
function productionEnv(app: string, endpoint: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: app,
    NODE_ENV: "production",
    AWS_EC2_METADATA_DISABLED: "true",
    S3_BUCKET_NAME: "archive-bucket",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}
describe("production-only install (the Dockerfile runtime stage without Docker)", () => {
  const app = mkdtempSync(join(tmpdir(), "sqs-archiver-runtime-"));
  let server: Fauxqs | undefined;
  let child: ChildProcess | undefined;
  const output: string[] = [];
  let healthPort = 0;
  let queueUrl = "";

  beforeAll(async () => {
    // build stage: tsc -p tsconfig.build.json, into the app folder's dist/
    runOk(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json"), "--outDir", join(app, "dist")]);
    // deps stage: package manifests + npm ci --omit=dev
    copyFileSync(join(ROOT, "package.json"), join(app, "package.json"));
    copyFileSync(join(ROOT, "package-lock.json"), join(app, "package-lock.json"));
    const [npm, ...args] = depsInstallCommand();
    const r = run(npm as string, [...args, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: app,
      env: { ...process.env, NODE_ENV: "production" },
      timeout: 150_000,
    });
    if (r.code !== 0) throw new Error(`npm ci --omit=dev failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    server = await startFauxqs({ port: 0, logger: false });
    queueUrl = server.createQueue("q").queueUrl;
    server.createBucket("archive-bucket");
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await server?.stop();
    rmSync(app, { recursive: true, force: true });
  });

  it("installs no devDependencies", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    // A devDependency that a runtime dependency also needs (ajv, under fastify) is rightly in the image.
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev === true);
    const present = devOnly.filter((d) => existsSync(join(app, "node_modules", d)));
    expect(present).toEqual([]);
    expect(existsSync(join(app, "dist/main.js"))).toBe(true);
  });

  it("starts, answers the probes and metrics, archives a message and exits 0 on SIGTERM", async () => {
    const fauxqs = server as Fauxqs;
    healthPort = await freePort();
    child = spawn(process.execPath, ["dist/main.js"], {
      cwd: app,
      env: {
        ...productionEnv(app, fauxqs.address),
        SQS_QUEUE_URL: queueUrl,
        HEALTH_PORT: String(healthPort),
        WAIT_TIME_SECONDS: "1",
        SHUTDOWN_TIMEOUT_SECONDS: "5",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (c: Buffer) => output.push(c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => output.push(c.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child?.on("exit", (code) => resolve(code)));
    const base = `http://127.0.0.1:${healthPort}`;
    const ok = (path: string) => async () => {
      if (child?.exitCode !== null) throw new Error(`service exited ${child?.exitCode}:\n${output.join("")}`);
      const res = await fetch(base + path);
      return res.status === 200 ? await res.text() : undefined;
    };

    try {
      await waitFor(`GET ${HEALTH_PATH} = 200`, 30_000, ok(HEALTH_PATH));
      await waitFor(`GET ${READY_PATH} = 200`, 30_000, ok(READY_PATH));
      const metrics = await waitFor(`GET ${METRICS_PATH}`, 10_000, ok(METRICS_PATH));
      expect(metrics).toContain("sqs_archiver_build_info");

      const { messageId } = fauxqs.sendMessage("q", JSON.stringify({ hello: "runtime-install" }));
      const s3 = new S3Client({
        region: "us-east-1",
        endpoint: fauxqs.address,
        forcePathStyle: true,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      const key = await waitFor("the archive object", 20_000, async () => {
        const list = await s3.send(new ListObjectsV2Command({ Bucket: "archive-bucket" }));
        return list.Contents?.map((o) => o.Key).find((k) => k?.endsWith(`/${messageId}.json`));
      });
      expect(key).toMatch(new RegExp(`^sqs-messages/\\d{4}/\\d{2}/\\d{2}/\\d{2}/${messageId}\\.json$`));
      s3.destroy();

      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 15_000))]);
      expect(code, output.join("")).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- service output\n${output.join("").slice(-4000)}`, { cause: err });
    }
  }, 90_000);

  it("node dist/main.js compact runs on the production install (DuckDB's native engine is a runtime dependency)", async () => {
    const fauxqs = server as Fauxqs;
    const hourAgo = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    // Asynchronous: the emulator answers from this process.
    const proc = spawn(process.execPath, ["dist/main.js", "compact", "--since", new Date(hourAgo).toISOString(), "--until", new Date(hourAgo + 3_600_000).toISOString(), "--settle", "0"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...productionEnv(app, fauxqs.address),
        COMPACT_SPILL_DIR: join(app, "spill"),
      },
    });
    const r = { stdout: "", stderr: "", status: null as number | null };
    proc.stdout?.on("data", (c: Buffer) => (r.stdout += c.toString("utf8")));
    proc.stderr?.on("data", (c: Buffer) => (r.stderr += c.toString("utf8")));
    r.status = await new Promise<number | null>((resolve) => proc.on("close", (code) => resolve(code)));
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const summary = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === "compact_summary");
    expect(summary).toMatchObject({ hours: 1, hoursFailed: 0, exitCode: 0 });
  }, 90_000);
});
