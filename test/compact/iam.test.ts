/** iam/policy-compact.json grants exactly what compaction sends: read both prefixes, write-once into the compacted one. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { COMPACT_IAM_ACTIONS, COMPACT_S3_COMMANDS } from "../../src/compact/commands.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ACTION_OF: Record<string, string> = { ListObjectsV2: "s3:ListBucket", GetObject: "s3:GetObject", PutObject: "s3:PutObject" };

function s3CommandsIn(dir: string): Set<string> {
  const out = new Set<string>();
  for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" }).filter((x) => x.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, dir, f), "utf8");
    for (const m of text.matchAll(/import\s*{([^}]*)}\s*from\s*"@aws-sdk\/client-(sqs|s3)"/g)) {
      expect(m[2], `${dir}/${f} uses SQS`).toBe("s3");
      for (const raw of (m[1] as string).split(",")) {
        const name = raw.trim();
        if (name.endsWith("Command") && !name.startsWith("type ")) out.add(name.replace(/Command$/, ""));
      }
    }
  }
  return out;
}

describe("IAM for compaction", () => {
  const policy = JSON.parse(readFileSync(join(ROOT, "iam/policy-compact.json"), "utf8")) as { Statement: Array<{ Effect: string; Action: string[]; Resource: string | string[]; Condition?: any }> };

  it("the code's commands are the declared ones (src/compact and the archive reader)", () => {
    const sent = new Set([...s3CommandsIn("src/compact"), ...s3CommandsIn("src/archive")]);
    expect([...sent].sort()).toEqual([...COMPACT_S3_COMMANDS].sort());
    expect(COMPACT_S3_COMMANDS.map((c) => ACTION_OF[c]).sort()).toEqual([...COMPACT_IAM_ACTIONS].sort());
  });

  it("grants those actions and nothing else (no delete, no overwrite): writes only under the compacted prefix, only with If-None-Match", () => {
    expect(policy.Statement.flatMap((s) => s.Action).sort()).toEqual([...COMPACT_IAM_ACTIONS].sort());
    expect(policy.Statement.every((s) => s.Effect === "Allow")).toBe(true);
    const of = (a: string) => policy.Statement.find((s) => s.Action.includes(a))!;
    expect(of("s3:ListBucket").Condition.StringLike["s3:prefix"]).toEqual(["${S3_PREFIX}*", "${COMPACT_PREFIX}*"]);
    expect(of("s3:GetObject").Resource).toEqual(["arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${S3_PREFIX}*", "arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${COMPACT_PREFIX}*"]);
    expect(of("s3:PutObject").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${COMPACT_PREFIX}*");
    expect(of("s3:PutObject").Condition).toEqual({ Null: { "s3:if-none-match": "false" } });
  });

  it("every PutObject the compactor sends carries If-None-Match: *", () => {
    const text = readFileSync(join(ROOT, "src/compact/s3.ts"), "utf8");
    const puts = [...text.matchAll(/new PutObjectCommand\(\{[\s\S]*?\}\)/g)].map((m) => m[0]);
    expect(puts.length).toBeGreaterThan(0);
    for (const p of puts) expect(p).toContain('IfNoneMatch: "*"');
  });
});
