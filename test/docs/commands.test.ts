/**
 * Every command shown in the README and docs/*.md (```bash and ```sh blocks) either runs here as printed (on this
 * machine's older system Node where there is one, as a reader's shell would), is run by the test named for it, or
 * sits in a block marked `# needs AWS` (AWS account, cluster). A new unmarked command fails this test until it is
 * run somewhere.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/harness.js";
import { findOldNode } from "../support/old-node.js";
import { freePort, MAIN, ROOT } from "../support/process.js";

const run = promisify(execFile);
const shellEnv = { PATH: findOldNode()?.pathEnv ?? process.env.PATH, HOME: process.env.HOME, S3_BUCKET_NAME: "" };
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

interface Shown {
  file: string;
  command: string;
  marked: boolean;
}

/** Commands of every shell block: continuation lines joined, comments dropped, `a && b` split. */
function shownCommands(): Shown[] {
  const out: Shown[] = [];
  for (const file of DOCS) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(/^[ ]*```(?:bash|sh)\n([\s\S]*?)^[ ]*```/gm)) {
      const lines = (m[1] as string).split("\n").map((l) => l.trim());
      const marked = /^# needs AWS/.test(lines[0] ?? "");
      const joined = lines.join("\n").replace(/\\\n\s*/g, " ");
      for (const line of joined.split("\n")) {
        const command = line.replace(/\s+#.*$/, "").trim();
        if (!command || command.startsWith("#")) continue;
        for (const part of command.split(" && ")) out.push({ file, command: part.trim(), marked: marked || /# needs AWS/.test(line) });
      }
    }
  }
  return out;
}

/** Runs `sqs-archiver local` with the command's variables (what `npm run local` runs after building) until its banner. */
async function localModeRuns(command: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  expect(pkg.scripts.local).toBe("npm run build && node dist/main.js local");
  const vars = Object.fromEntries([...command.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string]));
  const env = { ...shellEnv, ...vars, LOCAL_PORT: String(await freePort()), HEALTH_PORT: String(await freePort()), LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), "docs-local-")), LOG_LEVEL: "warn" };
  const child = spawn(process.execPath, [MAIN, "local"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
  try {
    await waitFor(() => (out.includes("Ctrl-C stops everything.") ? true : undefined), 30_000);
    if (vars.ARCHIVE_FORMAT) expect(out).toContain(`Batched mode (ARCHIVE_FORMAT=${vars.ARCHIVE_FORMAT}, ${vars.ARCHIVE_COMPRESSION ?? "gzip"})`);
    if (vars.BATCH_MAX_SECONDS) expect(out).toContain(`BATCH_MAX_SECONDS (${vars.BATCH_MAX_SECONDS} s)`);
  } finally {
    child.kill("SIGINT");
  }
  expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(0);
}

async function runsAsPrinted(command: string, expected: RegExp): Promise<void> {
  const { stdout } = await run("bash", ["-c", command], { cwd: ROOT, env: shellEnv });
  expect(stdout).toMatch(expected);
}

/** How each unmarked command is run: here, or by the named test or pipeline (which must contain it). */
const RULES: Array<{ match: RegExp; run: (command: string) => Promise<void> }> = [
  { match: /^npx sqs-archiver --help$/, run: (c) => runsAsPrinted(c, /^Usage: sqs-archiver \[command\]/) },
  { match: /^npx sqs-archiver local --help$/, run: (c) => runsAsPrinted(c, /^Usage: sqs-archiver local/) },
  { match: /^npx sqs-archiver athena-ddl /, run: (c) => runsAsPrinted(c, /CREATE EXTERNAL TABLE/) },
  { match: /^([A-Z_]+=\S+ )*npm run local$/, run: localModeRuns },
  { match: /^npm ci$/, run: async () => expect(readFileSync(join(ROOT, "Jenkinsfile-CI"), "utf8")).toContain("npm ci") },
  { match: /^npm test$/, run: async () => expect(readFileSync(join(ROOT, "Jenkinsfile-CI"), "utf8")).toContain("npm test") },
  {
    match: /^AWS_ACCESS_KEY_ID=test .*aws --endpoint-url http:\/\/127\.0\.0\.1:4566 s3 sync /,
    run: async () => expect(readFileSync(join(ROOT, "test/replay/query-local.test.ts"), "utf8")).toContain("s3 sync"),
  },
];

describe("commands shown in the README and docs", () => {
  const shown = shownCommands();

  it("finds the commands (and the marked ones)", () => {
    expect(shown.length).toBeGreaterThan(15);
    expect(shown.some((s) => s.marked && s.command.startsWith("helm upgrade"))).toBe(true);
  });

  it("every unmarked command has a test that runs it", () => {
    const orphans = shown.filter((s) => !s.marked && !RULES.some((r) => r.match.test(s.command))).map((s) => `${s.file}: ${s.command}`);
    expect(orphans).toEqual([]);
  });

  it.each(shown.filter((s) => !s.marked).map((s) => [`${s.file}: ${s.command}`, s.command]))("%s", async (_label, command) => {
    const rule = RULES.find((r) => r.match.test(command));
    if (rule) await rule.run(command);
  });
});
