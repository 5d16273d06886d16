import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseReplayArgs, resolveResume } from "../../src/cli/replay-args.js";
import { CheckpointWriter, readCheckpoint } from "../../src/replay/checkpoint.js";
import { UsageError } from "../../src/replay/errors.js";
import { NOW } from "./fixtures.js";

describe("checkpoint journal", () => {
  const job = { version: 1 as const, sinceMs: 1, untilMs: 2, to: "https://sqs.eu-west-1.amazonaws.com/1/q", bucket: "b-b", prefix: "p/", filters: ["a=b"] };
  it("records sent ids and finished objects, survives a torn last line, compacts on resume", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ckpt-")), "c.jsonl");
    const w = new CheckpointWriter(file, job);
    w.sent([{ key: "k1", line: 1, messageId: "m1" }, { key: "k1", line: 2, messageId: "m2" }]);
    w.done("k1");
    w.sent([{ key: "k2", line: 1, messageId: "m3" }]);
    w.close();
    appendFileSync(file, '{"t":"sent","m":[["k2",2,"m4"');
    const s = readCheckpoint(file);
    expect(s?.job).toEqual(job);
    expect([...(s?.sent ?? [])].sort()).toEqual(["m1", "m2", "m3"]);
    expect([...(s?.done ?? [])]).toEqual(["k1"]);
    const w2 = new CheckpointWriter(file, job, s);
    w2.close();
    const again = readCheckpoint(file);
    expect([...(again?.sent ?? [])].sort()).toEqual(["m1", "m2", "m3"]);
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean).every((l) => JSON.parse(l))).toBe(true);
  });
  it("refuses a file that is not a checkpoint", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ckpt-")), "c.jsonl");
    writeFileSync(file, "hello\nworld\nmore\n");
    expect(() => readCheckpoint(file)).toThrow(UsageError);
  });
  it("a resume must name the same target, bucket, prefix and filters; a relative window takes the recorded one", () => {
    const base = ["--to", job.to, "--bucket", "b-b", "--prefix", "p/", "--filter", "a=b", "--checkpoint", "f"];
    const saved = { job, sent: new Set<string>(), done: new Set<string>() };
    const rel = parseReplayArgs(["--since", "2h", ...base], {}, NOW);
    expect(rel === "help" ? null : resolveResume(rel, saved)).toEqual({ sinceMs: 1, untilMs: 2 });
    const other = parseReplayArgs(["--since", "2h", ...base.slice(0, 1), "https://sqs.eu-west-1.amazonaws.com/1/other", ...base.slice(2)], {}, NOW);
    expect(() => other !== "help" && resolveResume(other, saved)).toThrow(/different replay/);
    const abs = parseReplayArgs(["--since", "1764000000", ...base], {}, NOW);
    expect(() => abs !== "help" && resolveResume(abs, saved)).toThrow(/different window/);
  });
});
