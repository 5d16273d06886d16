import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/harness.js";
import { findOldNode } from "../support/old-node.js";
import { freePort, isolatedEnv, ROOT, spawnService } from "../support/process.js";

const run = promisify(execFile);
// The printed commands must work in a shell whose `node` is the system's (older) one: npx finds the pinned Node.
const shellEnv = { PATH: findOldNode()?.pathEnv ?? process.env.PATH, HOME: process.env.HOME };

describe("npm run local: the banner's replay command", () => {
  it("replays what local mode archived into the -replay queue", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "local-replay-"));
    const [port, healthPort] = [await freePort(), await freePort()];
    const svc = spawnService(isolatedEnv({ LOCAL_PORT: String(port), HEALTH_PORT: String(healthPort), LOCAL_DATA_DIR: dataDir, LOG_LEVEL: "warn" }), ["local"]);
    const endpoint = `http://127.0.0.1:${port}`;
    const sqs = new SQSClient({ region: "us-east-1", endpoint, useQueueUrlAsEndpoint: false, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    try {
      const replay = await waitFor(() => svc.stdout.find((l) => l.includes(" replay --since 1h --to "))?.trim(), 30_000);
      const ddl = await waitFor(() => svc.stdout.find((l) => l.includes(" athena-ddl "))?.trim());
      const queueUrl = await waitFor(() => svc.stdout.find((l) => l.trim().startsWith("queue "))?.split(" : ")[1]?.trim());
      const target = /--to (\S+)/.exec(replay)?.[1] as string;
      const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "replay me" }));
      // The archive is written within a second; the replay then finds it.
      let out = "";
      await waitFor(async () => {
        out = (await run("bash", ["-c", replay], { env: shellEnv, cwd: ROOT })).stdout;
        return /"sent":1\b/.test(out) ? true : undefined;
      }, 10_000, 300);
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: target, MessageAttributeNames: ["All"], WaitTimeSeconds: 1 }));
      expect(got.Messages?.[0]?.Body).toBe("replay me");
      expect(got.Messages?.[0]?.MessageAttributes?.["sqs-archiver-original-message-id"]?.StringValue).toBe(sent.MessageId);
      expect((await run("bash", ["-c", ddl], { env: shellEnv, cwd: ROOT })).stdout).toContain("CREATE EXTERNAL TABLE");
    } finally {
      sqs.destroy();
      svc.child.kill("SIGINT");
    }
    expect((await svc.exited).code).toBe(0);
  });
});
