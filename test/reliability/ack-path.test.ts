import { describe, expect, it } from "vitest";
import { metricValue, waitFor } from "../support/harness.js";
import { expectExactlyOnce, readArchive, sendAll, sleep } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * Invariants of the acknowledgement path, each held with the real process:
 *  1. a message with a SentTimestamp no SQS message can carry is rejected alone; the process and its batch carry on;
 *  2. the shutdown deadline never aborts the deletes of messages already archived (none is left invisible);
 *  5. a message failing verification is its own fault: it does not count as an S3 failure or slow receiving.
 */
const BUCKET = "ack-path";

type ReceiveOutput = { Messages?: Array<{ Body: string; Attributes?: Record<string, string> }> };

describe("acknowledgement path, real process", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("1. a SentTimestamp no SQS message can carry is rejected per message; the process and the rest of the batch carry on", async () => {
    const queueUrl = await backend.createQueue("bad-timestamp", { VisibilityTimeout: "30" });
    // Rewrite SentTimestamp of marked messages in every ReceiveMessage response, as the review did.
    backend.proxy.setTransforms({
      response(op, body, _req, status) {
        if (op.name !== "ReceiveMessage" || status !== 200) return body;
        const out = JSON.parse(body.toString("utf8")) as ReceiveOutput;
        for (const m of out.Messages ?? []) {
          if (m.Body === "far-future" && m.Attributes) m.Attributes.SentTimestamp = "9000000000000000";
          if (m.Body === "empty-timestamp" && m.Attributes) m.Attributes.SentTimestamp = "";
        }
        return Buffer.from(JSON.stringify(out));
      },
    });
    const good = await sendAll(backend, queueUrl, ["ok 1", "ok 2", "ok 3", "ok 4"]);
    const bad = await sendAll(backend, queueUrl, ["far-future", "empty-timestamp"]);
    const svc = spawn(serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "timestamp/", CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "30" }));
    const base = await svc.base();
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_deleted_total")) === 4, 15_000, 100);
    await waitFor(async () => (await metricValue(base, "sqs_archiver_failures_total", { stage: "verify", reason: "SENT_TIMESTAMP_INVALID" })) === 2, 5_000);
    await expectExactlyOnce(backend, BUCKET, "timestamp/", good);
    expect((await backend.listKeys(BUCKET)).some((k) => k.includes("/1970/"))).toBe(false);
    // Still running, still ready, and the two bad messages are left in flight for redrive (not deleted, not archived).
    expect(svc.child.exitCode).toBeNull();
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    expect((await backend.queueDepth(queueUrl)).inFlight).toBe(2);
    const rejected = svc.events("message_rejected").map((l) => l.messageId).sort();
    expect(rejected).toEqual([...bad.keys()].sort());
    expect(svc.stderr.join("\n")).not.toMatch(/unhandled_rejection/);
    // Only the messages' own fault: no S3 backoff.
    expect(await metricValue(base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })).toBe(0);
  }, 40_000);

  it("2. at the shutdown deadline, archived messages are still deleted and the one whose write hangs is released", async () => {
    const queueUrl = await backend.createQueue("deadline");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 10 }, (_, i) => `deadline ${i}`));
    const hungId = [...sent.keys()][3] as string;
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject" && (op.key ?? "").includes(hungId), action: { kind: "hang" } }]);
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: "deadline/",
        CONCURRENCY: "1",
        SHUTDOWN_TIMEOUT_SECONDS: "3",
        S3_REQUEST_TIMEOUT_SECONDS: "60",
        VISIBILITY_TIMEOUT_SECONDS: "120",
      }),
    );
    const base = await svc.base();
    await waitFor(async () => (await backend.listKeys(BUCKET, "deadline/")).length === 9, 15_000, 100);
    await sleep(200);
    // The nine are archived but wait, with the hung one, for their batch: nothing deleted yet.
    expect(await metricValue(base, "sqs_archiver_messages_deleted_total")).toBe(0);
    const t0 = Date.now();
    svc.child.kill("SIGTERM");
    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4_000);
    // Nine deleted, the hung one visible again at once (released), nothing left invisible for 120 s.
    expect(await backend.queueDepth(queueUrl)).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    const archive = await readArchive(backend, BUCKET, "deadline/");
    expect(archive.size).toBe(9);
    expect(archive.has(hungId)).toBe(false);
    expect(svc.events("released")).toMatchObject([{ why: "shutdown_deadline", messageIds: [hungId] }]);
    expect(svc.events("delete_failed")).toEqual([]);
  }, 40_000);

  it("5. verification failures never back off the sink: 7 corrupt messages then a good one, CONCURRENCY 1", async () => {
    const queueUrl = await backend.createQueue("verify-backoff", { VisibilityTimeout: "60" });
    backend.proxy.setTransforms({
      response(op, body, _req, status) {
        if (op.name !== "ReceiveMessage" || status !== 200) return body;
        const out = JSON.parse(body.toString("utf8")) as ReceiveOutput;
        for (const m of out.Messages ?? []) if (m.Body.startsWith("corrupt")) m.Body = m.Body.toUpperCase();
        return Buffer.from(JSON.stringify(out));
      },
    });
    await sendAll(backend, queueUrl, Array.from({ length: 7 }, (_, i) => `corrupt ${i}`));
    const good = await sendAll(backend, queueUrl, ["good one"]);
    const svc = spawn(
      serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "verify/", CONCURRENCY: "1", MAX_MESSAGES_PER_POLL: "1", VISIBILITY_TIMEOUT_SECONDS: "60" }),
    );
    const base = await svc.base();
    const t0 = Date.now();
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_deleted_total")) === 1, 15_000, 50);
    // Eight receives with no pause: well under one second of the old 0.5 s-doubling S3 backoff.
    expect(Date.now() - t0).toBeLessThan(5_000);
    await expectExactlyOnce(backend, BUCKET, "verify/", good);
    expect(await metricValue(base, "sqs_archiver_failures_total", { stage: "verify", reason: "MD5_MISMATCH" })).toBe(7);
    expect(await metricValue(base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })).toBe(0);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  }, 40_000);
});
