/** `sqs-archiver compact` flags as a user types them: help, usage errors (exit 2), configuration errors (exit 78). */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isolatedEnv } from "../support/process.js";
import { CLI, runCli } from "../replay/helpers.js";

const env = (extra: Record<string, string> = {}) => isolatedEnv({ S3_BUCKET_NAME: "arch-bucket", AWS_REGION: "eu-west-1", ...extra });

describe("sqs-archiver compact command line", () => {
  it("is listed in the help; compact --help names every option; the image entry runs it", async () => {
    expect((await runCli(["--help"], env())).stdout.join("\n")).toContain("compact");
    const r = await runCli(["compact", "--help"], env());
    expect(r.code).toBe(0);
    for (const o of ["--since", "--until", "--bucket", "--prefix", "--to-prefix", "--settle", "--dry-run", "--spill-dir", "--memory-limit"]) expect(r.stdout.join("\n")).toContain(o);
    const main = CLI.replace(/cli[\\/]cli\.js$/, "main.js");
    const m = spawnSync(process.execPath, [main, "compact", "--until", "1h"], { env: env(), encoding: "utf8" });
    expect(m.status).toBe(2);
    expect(m.stderr).toContain("--since");
  });

  it.each([
    [["compact"], "--since"],
    [["compact", "--since", "yesterday"], "--since"],
    [["compact", "--since", "1h", "--until", "3h"], "before"],
    [["compact", "--since", "3h", "--settle", "soon"], "--settle"],
    [["compact", "--since", "3h", "--prefix", "raw/", "--to-prefix", "raw/compacted/"], "inside"],
    [["compact", "--since", "3h", "--prefix", "raw/", "--to-prefix", "raw/"], "inside"],
    [["compact", "--since", "3h", "--memory-limit", "lots"], "--memory-limit"],
    [["compact", "--since", "3h", "--wat"], "wat"],
  ])("usage error %j exits 2", async (args, text) => {
    const r = await runCli(args, env());
    expect(r.code).toBe(2);
    expect(r.stderr.join("\n")).toContain(text);
  });

  it.each([
    [{ S3_BUCKET_NAME: "" }, "S3_BUCKET_NAME"],
    [{ AWS_REGION: "" }, "AWS_REGION"],
    [{ S3_PREFIX: "/abs/" }, "S3_PREFIX"],
    [{ COMPACT_MEMORY_LIMIT: "big" }, "COMPACT_MEMORY_LIMIT"],
  ])("configuration error %j exits 78 naming the variable, before any AWS call", async (extra, name) => {
    const r = await runCli(["compact", "--since", "3h"], env({ AWS_ENDPOINT_URL: "http://127.0.0.1:9", ...extra }));
    expect(r.code).toBe(78);
    expect(r.stderr.join("\n")).toContain(name);
  });
});

describe("sqs-archiver athena-ddl --compacted", () => {
  it("prints a Parquet table over the compacted prefix (default beside --prefix) with every compacted column", async () => {
    const r = await runCli(["athena-ddl", "--compacted", "--prefix", "orders/", "--table", "orders_compacted"], env());
    expect(r.code).toBe(0);
    const out = r.stdout.join("\n");
    expect(out).toContain("CREATE EXTERNAL TABLE IF NOT EXISTS `orders_compacted`");
    expect(out).toContain("LOCATION 's3://arch-bucket/orders-compacted/'");
    expect(out).toContain("'projection.datehour.format' = 'yyyy/MM/dd/HH'");
    for (const c of ["message_id", "body", "sent_at", "attributes", "message_attributes", "message_group_id", "sequence_number", "source_key"]) expect(out).toContain(`\`${c}\``);
    expect(out).toContain("binary_value:binary");
    expect((await runCli(["athena-ddl", "--compacted", "--to-prefix", "lake/x/"], env())).stdout.join("\n")).toContain("s3://arch-bucket/lake/x/${datehour}/");
    expect((await runCli(["athena-ddl", "--compacted", "--table", "Bad-Name"], env())).code).toBe(2);
  });
});
