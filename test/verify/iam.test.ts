/** iam/policy-verify.json: read-only, and exactly what `sqs-archiver verify` sends (by its imports and by a real run). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { VERIFY_IAM_ACTIONS, VERIFY_S3_COMMANDS } from "../../src/verify/commands.js";
import { startBackend } from "../support/harness.js";
import { assertBuilt } from "../support/process.js";
import { cliEnv, putNdjson, runCli } from "../replay/helpers.js";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ACTION_OF: Record<string, string> = { ListObjectsV2: "s3:ListBucket", GetObject: "s3:GetObject" };

interface Statement {
  Action: string[];
  Resource: string;
  Effect: string;
  Condition?: Record<string, Record<string, string[]>>;
}

/** SDK commands imported by the code verify runs: src/verify, its CLI modules, the archive-reading layer. */
function commandsImported(): Set<string> {
  const files = [
    ...readdirSync(join(ROOT, "src/verify")).map((f) => `src/verify/${f}`),
    "src/cli/verify-command.ts",
    "src/cli/verify-args.ts",
    "src/archive/read.ts",
    "src/archive/compacted-read.ts",
    "src/archive/parse.ts",
    "src/archive/format.ts",
  ].filter((f) => f.endsWith(".ts"));
  const out = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/import\s*{([^}]*)}\s*from\s*"@aws-sdk\/client-(sqs|s3)"/g)) {
      for (const raw of (m[1] as string).split(",")) {
        const name = raw.trim();
        if (name.endsWith("Command") && !name.startsWith("type ")) out.add(`${m[2]}:${name.replace(/Command$/, "")}`);
      }
    }
  }
  return out;
}

describe("IAM for verify: iam/policy-verify.json", () => {
  const policy = JSON.parse(readFileSync(join(ROOT, "iam/policy-verify.json"), "utf8")) as { Statement: Statement[] };
  const actions = policy.Statement.flatMap((s) => s.Action);

  it("the code imports exactly the declared commands, and the policy grants exactly their actions", () => {
    expect([...commandsImported()].sort()).toEqual(VERIFY_S3_COMMANDS.map((c) => `s3:${c}`).sort());
    expect(VERIFY_S3_COMMANDS.map((c) => ACTION_OF[c]).sort()).toEqual([...VERIFY_IAM_ACTIONS].sort());
    expect([...actions].sort()).toEqual([...VERIFY_IAM_ACTIONS].sort());
  });

  it("is read-only and scoped to the archive prefix", () => {
    expect(actions.every((a) => /^s3:(List|Get)/.test(a))).toBe(true);
    expect(policy.Statement.every((s) => s.Effect === "Allow" && s.Resource !== "*" && !s.Resource.endsWith(":*"))).toBe(true);
    const of = (a: string) => policy.Statement.find((s) => s.Action.includes(a)) as Statement;
    expect(of("s3:ListBucket").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}");
    expect(of("s3:ListBucket").Condition?.StringLike?.["s3:prefix"]).toEqual(["${S3_PREFIX}*"]);
    expect(of("s3:GetObject").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${S3_PREFIX}*");
  });

  it("a real run sends only those commands (counted by the proxy)", async () => {
    assertBuilt();
    const backend = await startBackend();
    try {
      backend.createBucket("iam-verify");
      const sent = Date.now() - 60_000;
      const env: Envelope = {
        schemaVersion: 1,
        messageId: "6f0c8a52-0000-4000-8000-000000000001",
        queueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/q",
        body: "b",
        md5OfBody: md5Hex("b"),
        attributes: { SentTimestamp: String(sent) },
        messageAttributes: {},
        sentAt: new Date(sent).toISOString(),
        archivedAt: new Date(sent).toISOString(),
      };
      await putNdjson(backend, "iam-verify", "p/", [env], "gzip");
      backend.proxy.counts.clear();
      const r = await runCli(["verify", "--since", "2h", "--prefix", "p/"], cliEnv(backend, { S3_BUCKET_NAME: "iam-verify" }));
      expect(r.code, r.stderr.join("\n")).toBe(0);
      expect([...backend.proxy.counts.keys()].sort()).toEqual([...VERIFY_S3_COMMANDS].sort());
    } finally {
      await backend.close();
    }
  });

  it("iam/README.md and docs/verify.md name it, with the KMS note", () => {
    expect(readFileSync(join(ROOT, "iam/README.md"), "utf8")).toContain("policy-verify.json");
    const doc = readFileSync(join(ROOT, "docs/verify.md"), "utf8");
    expect(doc).toContain("policy-verify.json");
    expect(doc).toContain("kms:Decrypt");
  });
});
