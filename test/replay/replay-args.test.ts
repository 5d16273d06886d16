import { describe, expect, it } from "vitest";
import { parseReplayArgs } from "../../src/cli/replay-args.js";
import { ConfigError } from "../../src/errors.js";
import { UsageError } from "../../src/replay/errors.js";
import { NOW } from "./fixtures.js";

describe("replay arguments", () => {
  const to = "https://sqs.eu-west-1.amazonaws.com/123456789012/dst";
  it("defaults: bucket and prefix from the service's variables, region from the queue URL, rate 500", () => {
    const o = parseReplayArgs(["--since", "2h", "--to", to], { S3_BUCKET_NAME: "arch-bucket", S3_PREFIX: "x/" }, NOW);
    expect(o).toMatchObject({ bucket: "arch-bucket", prefix: "x/", rate: 500, concurrency: 16, dryRun: false, yes: false, provenance: true, aws: { region: "eu-west-1" } });
    expect(o !== "help" && o.until.ms).toBe(NOW);
  });
  it.each([
    [["--to", to]],
    [["--since", "2h"]],
    [["--since", "2h", "--to", "not a url"]],
    [["--since", "1h", "--until", "2h", "--to", to]],
    [["--since", "2h", "--to", to, "--rate", "-1"]],
    [["--since", "2h", "--to", to, "--concurrency", "0"]],
    [["--since", "2h", "--to", to, "--bogus"]],
    [["--since", "2h", "--to", to, "--filter", "noequals"]],
    [["--since", "2h", "--to", to, "--bucket", "Bad_Bucket"]],
  ])("usage error: %j", (argv) => {
    expect(() => parseReplayArgs(argv, { S3_BUCKET_NAME: "arch-bucket" }, NOW)).toThrow(UsageError);
  });
  it.each([
    [{}, /S3_BUCKET_NAME/],
    [{ S3_BUCKET_NAME: "Bad_Bucket" }, /S3_BUCKET_NAME/],
    [{ S3_BUCKET_NAME: "arch-bucket", AWS_REGION: "mars" }, /AWS_REGION/],
    [{ S3_BUCKET_NAME: "arch-bucket", AWS_ENDPOINT_URL: "ftp://x" }, /AWS_ENDPOINT_URL/],
  ])("configuration error: %j", (envv, re) => {
    expect(() => parseReplayArgs(["--since", "2h", "--to", to], envv, NOW)).toThrow(ConfigError);
    expect(() => parseReplayArgs(["--since", "2h", "--to", to], envv, NOW)).toThrow(re);
  });
  it("a queue URL whose host names no region needs AWS_REGION (configuration error)", () => {
    expect(() => parseReplayArgs(["--since", "2h", "--to", "http://localhost:4566/000000000000/q"], { S3_BUCKET_NAME: "arch-bucket" }, NOW)).toThrow(ConfigError);
  });
});
