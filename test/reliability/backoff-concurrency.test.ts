import { describe, expect, it } from "vitest";
import { metricValue, waitFor } from "../support/harness.js";
import { sendAll, sleep } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * Issue 8 #6: the backoff counters were shared by the loops and bumped once per loop, so one all-failed batch on each
 * of 8 loops put every loop to sleep for 15-30 s (level 8), against 0.25-0.5 s with one loop. Documented: 0.5 s
 * doubling. With the real process at CONCURRENCY 8 and every write failing, the loops must receive again within a
 * second or two of the first failed round, not after 15 s.
 */
const BUCKET = "backoff-concurrency";

describe("backoff with CONCURRENCY 8", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("one failed batch per loop pauses each loop about half a second, not 15-30 s", async () => {
    const queueUrl = await backend.createQueue("backoff-concurrency-q");
    await sendAll(backend, queueUrl, Array.from({ length: 80 }, (_, i) => `fails to write ${i}`));
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject", action: { kind: "status", status: 403, code: "AccessDenied", message: "Access Denied" } }]);
    const svc = spawn(serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "8", VISIBILITY_TIMEOUT_SECONDS: "30" }));
    const base = await svc.base();
    // The first round: most loops' batches have failed (80 messages, 8 loops of 10).
    await waitFor(() => (svc?.events("archive_failed").length ?? 0) >= 50, 15_000, 20);
    expect(await metricValue(base, "sqs_archiver_messages_archived_total")).toBe(0);
    const receivesBefore = backend.proxy.counts.get("ReceiveMessage") ?? 0;
    await sleep(3000);
    const receivesAfter = backend.proxy.counts.get("ReceiveMessage") ?? 0;
    // Each of the 8 loops paused 0.25-0.5 s (level 1), then received again (empty long polls of 1 s: everything is
    // in flight) and paused again at most 0.5 s: at least one receive per loop in 3 s. At level 8 none would have.
    expect(receivesAfter - receivesBefore).toBeGreaterThanOrEqual(8);
    // Still a backoff, not a hot loop.
    expect(receivesAfter - receivesBefore).toBeLessThan(8 * 10);
    svc.child.kill("SIGTERM");
    expect((await svc.exited).code).toBe(0);
  }, 40_000);
});
