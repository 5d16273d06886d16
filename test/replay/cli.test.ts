/** The `sqs-archiver` entry as a user runs it: commands, help and exit statuses (no AWS needed). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isolatedEnv } from "../support/process.js";
import { CLI, runCli } from "./helpers.js";

const TO = "https://sqs.eu-west-1.amazonaws.com/123456789012/dst";
const env = (extra: Record<string, string> = {}) => isolatedEnv({ S3_BUCKET_NAME: "arch-bucket", ...extra });

describe("sqs-archiver command line", () => {
  it("package.json bin points at the CLI entry", () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")) as { bin: Record<string, string> };
    expect(fileURLToPath(new URL(`../../${pkg.bin["sqs-archiver"]}`, import.meta.url))).toBe(CLI);
    expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });

  it("with no command it is the service (configuration checked, exit 78)", async () => {
    const r = await runCli([], isolatedEnv({}));
    expect(r.code).toBe(78);
    expect(r.stderr.join("\n")).toContain("SQS_QUEUE_URL");
  });

  it("the image's entry point reaches the same commands: node dist/main.js replay / athena-ddl", async () => {
    const main = CLI.replace(/cli[\\/]cli\.js$/, "main.js");
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(process.execPath, [main, "replay", "--since", "2h"], { env: env(), encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--to");
    const a = spawnSync(process.execPath, [main, "athena-ddl", "--bucket", "arch-bucket"], { env: env(), encoding: "utf8" });
    expect(a.status).toBe(0);
    expect(a.stdout).toContain("CREATE EXTERNAL TABLE");
  });

  it("help lists the commands; replay --help lists every option", async () => {
    const h = await runCli(["--help"], env());
    expect(h.code).toBe(0);
    for (const c of ["replay", "athena-ddl", "local"]) expect(h.stdout.join("\n")).toContain(c);
    const r = await runCli(["replay", "--help"], env());
    expect(r.code).toBe(0);
    for (const o of ["--since", "--until", "--to", "--bucket", "--prefix", "--filter", "--rate", "--concurrency", "--dry-run", "--checkpoint", "--yes"]) {
      expect(r.stdout.join("\n")).toContain(o);
    }
  });

  it.each([
    [["bogus"], 2],
    [["replay", "--since", "2h"], 2],
    [["replay", "--to", TO], 2],
    [["replay", "--since", "yesterday", "--to", TO], 2],
    [["replay", "--since", "2h", "--to", TO, "--wat"], 2],
    [["replay", "--since", "2h", "--to", TO, "--rate", "fast"], 2],
    [["replay", "--since", "1h", "--until", "3h", "--to", TO], 2],
  ])("usage error %j exits 2 with a message", async (args, code) => {
    const r = await runCli(args, env());
    expect(r.code).toBe(code);
    expect(r.stderr.join("\n")).toMatch(/sqs-archiver/);
  });

  it.each([
    [{ S3_BUCKET_NAME: "" }, "S3_BUCKET_NAME"],
    [{ S3_BUCKET_NAME: "Not_A_Bucket" }, "S3_BUCKET_NAME"],
    [{ AWS_REGION: "moon-1" }, "AWS_REGION"],
    [{ S3_PREFIX: "/abs/" }, "S3_PREFIX"],
  ])("configuration error %j exits 78 naming the variable", async (extra, name) => {
    const r = await runCli(["replay", "--since", "2h", "--to", TO], env(extra));
    expect(r.code).toBe(78);
    expect(r.stderr.join("\n")).toContain(name);
  });
});
