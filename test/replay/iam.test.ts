import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { REPLAY_IAM_ACTIONS, REPLAY_S3_COMMANDS, REPLAY_SQS_COMMANDS } from "../../src/replay/commands.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ACTION_OF: Record<string, string> = { ListObjectsV2: "s3:ListBucket", GetObject: "s3:GetObject", SendMessageBatch: "sqs:SendMessage" };

interface Statement {
  Action: string[];
  Resource: string;
  Effect: string;
  Condition?: Record<string, Record<string, string[]>>;
}

function commandsIn(dir: string): { s3: Set<string>; sqs: Set<string> } {
  const out = { s3: new Set<string>(), sqs: new Set<string>() };
  for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" }).filter((x) => x.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, dir, f), "utf8");
    for (const m of text.matchAll(/import\s*{([^}]*)}\s*from\s*"@aws-sdk\/client-(sqs|s3)"/g)) {
      for (const raw of (m[1] as string).split(",")) {
        const name = raw.trim();
        if (name.endsWith("Command") && !name.startsWith("type ")) out[m[2] as "s3" | "sqs"].add(name.replace(/Command$/, ""));
      }
    }
  }
  return out;
}

describe("IAM for replay: iam/policy-replay.json grants exactly what src/replay, src/cli and the archive reader send", () => {
  const policy = JSON.parse(readFileSync(join(ROOT, "iam/policy-replay.json"), "utf8")) as { Statement: Statement[] };
  const actions = policy.Statement.flatMap((s) => s.Action);

  it("the code's commands are the declared ones", () => {
    const dirs = ["src/replay", "src/cli", "src/archive"].map(commandsIn);
    const sent = { s3: new Set(dirs.flatMap((d) => [...d.s3])), sqs: new Set(dirs.flatMap((d) => [...d.sqs])) };
    expect([...sent.s3].sort()).toEqual([...REPLAY_S3_COMMANDS].sort());
    expect([...sent.sqs].sort()).toEqual([...REPLAY_SQS_COMMANDS].sort());
    expect([...REPLAY_S3_COMMANDS, ...REPLAY_SQS_COMMANDS].map((c) => ACTION_OF[c]).sort()).toEqual([...REPLAY_IAM_ACTIONS].sort());
  });

  it("the policy grants those actions and nothing else, each on its one resource", () => {
    expect([...actions].sort()).toEqual([...REPLAY_IAM_ACTIONS].sort());
    expect(policy.Statement.every((s) => s.Effect === "Allow" && !s.Resource.endsWith(":*") && s.Resource !== "*")).toBe(true);
    const of = (a: string) => policy.Statement.find((s) => s.Action.includes(a)) as Statement;
    expect(of("s3:ListBucket").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}");
    expect(of("s3:ListBucket").Condition?.StringLike?.["s3:prefix"]).toEqual(["${S3_PREFIX}*"]);
    expect(of("s3:GetObject").Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${S3_PREFIX}*");
    expect(of("sqs:SendMessage").Resource).toBe("arn:${AWS_PARTITION}:sqs:${AWS_REGION}:${AWS_ACCOUNT_ID}:${TARGET_QUEUE_NAME}");
  });

  it("iam/README.md and docs/replay.md explain it, with the KMS note", () => {
    const readme = readFileSync(join(ROOT, "iam/README.md"), "utf8");
    expect(readme).toContain("policy-replay.json");
    const doc = readFileSync(join(ROOT, "docs/replay.md"), "utf8");
    expect(doc).toContain("policy-replay.json");
    expect(doc).toContain("kms:Decrypt");
  });
});
