/**
 * docs/query.md on a local-mode archive, as a reader follows it: the Node snippet runs with `npx node`, the
 * `aws s3 sync` from the emulator copies the archive down and the DuckDB statements run over the copy unchanged, and
 * the `.data` paths and options of its table read the emulator's files in place (message mode and batched gzip).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/harness.js";
import { findOldNode } from "../support/old-node.js";
import { freePort, isolatedEnv, ROOT, spawnService, type ChildService } from "../support/process.js";

const run = promisify(execFile);
const DOC = readFileSync(join(ROOT, "docs/query.md"), "utf8");
const shellEnv = { PATH: findOldNode()?.pathEnv ?? process.env.PATH, HOME: process.env.HOME };

/** The DuckDB section's statements (not the local-mode section's, not the COPY export). */
function duckStatements(): string[] {
  const duck = DOC.slice(DOC.indexOf("## DuckDB"), DOC.indexOf("## A local-mode archive"));
  return [...duck.matchAll(/```sql\n([\s\S]*?)```/g)]
    .map((m) => m[1] as string)
    .join("\n")
    .split(/;\s*\n/)
    .map((x) => x.replace(/^\s*--.*$/gm, "").trim())
    .filter((x) => x && !x.startsWith("COPY"));
}

/** The local-archive table: kind → read_ndjson path and option. */
function localPaths(): Map<string, { path: string; option: string }> {
  const out = new Map<string, { path: string; option: string }>();
  for (const line of DOC.split("\n").filter((l) => l.includes("'.local-data/"))) {
    const [kind, path, option] = line.split("|").slice(1, 4).map((c) => c.trim().replace(/^`|`$/g, ""));
    out.set(kind as string, { path: path as string, option: option as string });
  }
  return out;
}

async function query(statements: string[], rewrite: (sql: string) => string): Promise<number> {
  const con = await (await DuckDBInstance.create()).connect();
  let last: Array<Record<string, unknown>> = [];
  for (const st of statements) last = (await con.runAndReadAll(rewrite(st))).getRowObjectsJson() as Array<Record<string, unknown>>;
  const dedup = (await con.runAndReadAll("SELECT count(*) AS n FROM orders_archive_dedup")).getRowObjectsJson();
  expect(last.reduce((n, r) => n + Number(r.messages), 0)).toBeGreaterThan(0);
  return Number(dedup[0]?.n);
}

async function localMode(extra: Record<string, string>): Promise<{ svc: ChildService; dataDir: string; port: number; send(body: string): Promise<void>; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "query-local-"));
  const [port, healthPort] = [await freePort(), await freePort()];
  const svc = spawnService(isolatedEnv({ LOCAL_PORT: String(port), HEALTH_PORT: String(healthPort), LOCAL_DATA_DIR: dataDir, LOG_LEVEL: "warn", ...extra }), ["local"]);
  const queueUrl = await waitFor(() => svc.stdout.find((l) => l.trim().startsWith("queue "))?.split(" : ")[1]?.trim(), 30_000);
  const sqs = new SQSClient({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, useQueueUrlAsEndpoint: false, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  return {
    svc,
    dataDir,
    port,
    send: async (body) => void (await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))),
    async close() {
      sqs.destroy();
      svc.child.kill("SIGINT");
      await svc.exited;
    },
  };
}

const files = (dir: string, re: RegExp) => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => re.test(f));

describe("docs/query.md over a local-mode archive", () => {
  it("the Node snippet runs with npx node, the system's Node on PATH", async () => {
    const dir = join(ROOT, ".local-data", `query-doc-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const snippet = /```js\n([\s\S]*?)```/.exec(DOC)?.[1] as string;
    writeFileSync(join(dir, "query.mjs"), snippet);
    try {
      const { stdout } = await run("npx", ["node", join(dir, "query.mjs"), "SELECT 42 AS answer"], { cwd: ROOT, env: shellEnv });
      expect(stdout).toMatch(/answer[\s\S]*42/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("message mode: aws s3 sync from the emulator, then the statements unchanged; and the .data files in place", async () => {
    const local = await localMode({});
    try {
      for (const b of ["one", "two", "three"]) await local.send(b);
      const objects = join(local.dataDir, "s3/buckets/sqs-archiver-local/objects");
      await waitFor(() => (files(objects, /\.json\.data$/).length === 3 ? true : undefined), 10_000);
      const sync = /```bash\n(AWS_ACCESS_KEY_ID=test[^\n]*s3 sync[^\n]*)\n```/.exec(DOC)?.[1] as string;
      const copy = mkdtempSync(join(tmpdir(), "query-sync-"));
      await run("bash", ["-c", sync.replace("127.0.0.1:4566", `127.0.0.1:${local.port}`).replace("archive/sqs-messages/", `${copy}/archive/sqs-messages/`)], { cwd: ROOT, env: shellEnv });
      expect(await query(duckStatements(), (sql) => sql.replaceAll("'archive/sqs-messages/", `'${copy}/archive/sqs-messages/`))).toBe(3);
      const inPlace = localPaths().get("message mode") as { path: string; option: string };
      expect(await query(duckStatements(), (sql) => sql.replace(/'archive\/sqs-messages\/\*\*\/\*json\*',[^\n]*/, `${inPlace.path.replace("'.local-data/", `'${local.dataDir}/`)},`))).toBe(3);
    } finally {
      await local.close();
    }
  });

  it("batched mode, gzip: the .data files in place with the table's path and option", async () => {
    const local = await localMode({ ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "1" });
    try {
      for (const b of ["one", "two", "three"]) await local.send(b);
      const objects = join(local.dataDir, "s3/buckets/sqs-archiver-local/objects");
      await waitFor(() => (files(objects, /\.ndjson\.gz\.data$/).length > 0 ? true : undefined), 15_000);
      await new Promise((r) => setTimeout(r, 1500));
      const gz = localPaths().get("batched, gzip") as { path: string; option: string };
      expect(gz.option).toBe("compression = 'gzip'");
      const n = await query(duckStatements(), (sql) => sql.replace(/'archive\/sqs-messages\/\*\*\/\*json\*',[^\n]*/, `${gz.path.replace("'.local-data/", `'${local.dataDir}/`)}, ${gz.option},`));
      expect(n).toBe(3);
    } finally {
      await local.close();
    }
  });
});
