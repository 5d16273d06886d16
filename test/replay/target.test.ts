/**
 * A replay target that does not exist, or may not be written, is found before anything is read: one line on stderr
 * naming the reason and the queue, exit 1, no send_failed lines, for --dry-run too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, type Backend } from "../support/harness.js";
import { cliEnv, runCli } from "./helpers.js";

describe("replay into a queue that cannot take the messages", () => {
  let backend: Backend;
  let missing: string;
  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket("target-archive");
    const existing = await backend.createQueue("target-exists");
    missing = existing.replace(/target-exists$/, "target-missing");
  });
  afterAll(async () => backend?.close());

  it.each([[[]], [["--dry-run"]]])("a queue that does not exist %j: one line up front, exit 1, no reads", async (extra) => {
    const gets = backend.proxy.counts.get("GetObject") ?? 0;
    const lists = backend.proxy.counts.get("ListObjectsV2") ?? 0;
    const r = await runCli(["replay", "--since", "2h", "--to", missing, "--bucket", "target-archive", ...extra], cliEnv(backend));
    expect(r.code).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(new RegExp(`^sqs-archiver replay: queue_not_found: cannot send to ${missing.replace(/[.]/g, "\\.")} `));
    expect(r.events("send_failed")).toEqual([]);
    expect(r.summary()).toMatchObject({ stopped: "target", exitCode: 1, listed: 0 });
    expect((backend.proxy.counts.get("ListObjectsV2") ?? 0) - lists).toBe(0);
    expect((backend.proxy.counts.get("GetObject") ?? 0) - gets).toBe(0);
  });

  it("a queue that denies SendMessage: one line naming access_denied", async () => {
    const denied = await backend.createQueue("target-denied");
    backend.proxy.setFaults([{ match: (op) => op.name === "SendMessageBatch", action: { kind: "status", status: 403, code: "AccessDenied", message: "not authorized to perform sqs:sendmessage" } }]);
    try {
      const r = await runCli(["replay", "--since", "2h", "--to", denied, "--bucket", "target-archive", "--dry-run"], cliEnv(backend));
      expect(r.code).toBe(1);
      expect(r.stderr).toEqual([expect.stringMatching(/^sqs-archiver replay: access_denied: cannot send to /)]);
    } finally {
      backend.proxy.clearFaults();
    }
  });
});
