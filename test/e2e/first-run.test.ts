/**
 * What a new user runs first, from a checkout, on a machine whose system Node is older than the pinned one: every
 * entry point says in one line which Node it found and needs and how to run it; the commands printed by the README
 * and the banner (npx sqs-archiver …) work there; every command has --help and refuses unknown flags with exit 2.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOldNode } from "../support/old-node.js";
import { waitFor } from "../support/harness.js";
import { freePort, isolatedEnv, MAIN, ROOT, spawnService } from "../support/process.js";

const CLI = fileURLToPath(new URL("../../dist/cli/cli.js", import.meta.url));
const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")) as { version: string }).version;
const old = findOldNode();
if (!old) console.warn("first-run: no Node.js older than 24 on this machine; the old-Node checks are skipped");

const run = (bin: string, args: string[], env: NodeJS.ProcessEnv = isolatedEnv({})) =>
  spawnSync(bin, args, { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
const lines = (s: string) => s.split("\n").filter(Boolean);

describe.skipIf(!old)(`with the system Node (${old?.version ?? "none"})`, () => {
  it.each([
    [MAIN, []],
    [MAIN, ["replay", "--since", "1h"]],
    [CLI, ["replay", "--help"]],
    [CLI, ["local"]],
    [CLI, []],
  ])("%s %j exits 1 with one line: found, needed, how to run it", (entry, args) => {
    const r = run(old!.path, [entry, ...args]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const [line, ...more] = lines(r.stderr);
    expect(more).toEqual([]);
    expect(line).toContain(`Node.js ${old!.version} found`);
    expect(line).toContain("Node.js 24");
    expect(line).toContain("npx sqs-archiver");
  });

  it("npx sqs-archiver, as the README and the banner print it, runs on the pinned Node", () => {
    const env = isolatedEnv({ PATH: old!.pathEnv, S3_BUCKET_NAME: "arch-bucket" });
    const v = run("npx", ["sqs-archiver", "--version"], env);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(VERSION);
    const ddl = run("npx", ["sqs-archiver", "athena-ddl", "--bucket", "arch-bucket"], env);
    expect(ddl.status, ddl.stderr).toBe(0);
    expect(ddl.stdout).toContain("CREATE EXTERNAL TABLE");
  });
});

const COMMANDS = ["local", "replay", "athena-ddl"];

describe("every command's help and flags (the pinned Node)", () => {
  it.each(COMMANDS)("sqs-archiver %s --help prints that command's usage and exits 0", (command) => {
    for (const entry of [CLI, MAIN]) {
      for (const flag of ["--help", "-h"]) {
        const r = run(process.execPath, [entry, command, flag]);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.split("\n")[0]).toMatch(new RegExp(`^Usage: sqs-archiver ${command}\\b`));
      }
    }
    expect(run(process.execPath, [CLI, "help", command]).stdout.split("\n")[0]).toMatch(new RegExp(`^Usage: sqs-archiver ${command}\\b`));
  });

  it.each([...COMMANDS, ""])("an unknown flag to %j is a usage error: exit 2, one message, nothing started", (command) => {
    const args = command ? [command, "--no-such-flag"] : ["--no-such-flag"];
    for (const entry of [CLI, MAIN]) {
      const r = run(process.execPath, [entry, ...args], isolatedEnv({ S3_BUCKET_NAME: "arch-bucket" }));
      expect(r.status, r.stderr + r.stdout).toBe(2);
      expect(r.stderr).toContain("--no-such-flag");
      expect(r.stdout).toBe("");
    }
  });

  it("node dist/main.js -v and --version print the version (and do not start the service)", () => {
    for (const flag of ["-v", "--version"]) {
      for (const entry of [MAIN, CLI]) {
        const r = run(process.execPath, [entry, flag]);
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${VERSION}\n`);
      }
    }
  });

  it("an unknown command exits 2 and points at --help", () => {
    const r = run(process.execPath, [MAIN, "replya"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("sqs-archiver --help");
  });
});

describe("a port already in use", () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => taken.close());

  it.each([
    ["local: the emulator's port", ["local"], (p: number, free: number) => ({ LOCAL_PORT: String(p), HEALTH_PORT: String(free) }), "LOCAL_PORT"],
    ["local: the probe port", ["local"], (p: number, free: number) => ({ LOCAL_PORT: String(free), HEALTH_PORT: String(p) }), "HEALTH_PORT"],
    [
      "the service: the probe port",
      [],
      (p: number) => ({ HEALTH_PORT: String(p), SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "arch-bucket", AWS_ENDPOINT_URL: "http://127.0.0.1:9" }),
      "HEALTH_PORT",
    ],
  ])("%s is one line naming the port and the variable that changes it", async (_what, args, vars, variable) => {
    const env = isolatedEnv({ LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), "first-run-")), ...vars(port, await freePort()) });
    const r = run(process.execPath, [MAIN, ...args], env);
    expect(r.status).toBe(78);
    const errors = lines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`port ${port}`);
    expect(errors[0]).toContain(`set ${variable}`);
  });
});

describe("configuration warnings", () => {
  it("a batched-only variable in message mode: one warning line naming it, and the service runs", async () => {
    const svc = spawnService(
      isolatedEnv({ SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", S3_BUCKET_NAME: "arch-bucket", AWS_ENDPOINT_URL: "http://127.0.0.1:9", HEALTH_PORT: "0", BATCH_MAX_SECONDS: "10", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" }),
    );
    try {
      await waitFor(() => svc.events("started")[0], 20_000);
      const warnings = svc.events("config_warning");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: "warn", msg: expect.stringMatching(/^BATCH_MAX_SECONDS="10": has no effect with ARCHIVE_FORMAT=message/) });
    } finally {
      svc.child.kill("SIGKILL");
    }
  });
});
