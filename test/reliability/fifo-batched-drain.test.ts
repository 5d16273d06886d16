import { describe, expect, it } from "vitest";
import { byMessageId, readAllLines } from "../support/archive-reader.js";
import { metricValue } from "../support/harness.js";
import { sendAll, waitForDrained } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * A FIFO queue hands out nothing more of a message group while an earlier message of it is in flight, so a batch
 * waiting for its count, bytes or age would let each group advance one receive per BATCH_MAX_SECONDS. In batched mode
 * a FIFO queue drains at receive speed instead: a batch closes as soon as a receive stops bringing new messages.
 */
const BUCKET = "fifo-batched-drain";

describe("ndjson mode on a FIFO queue", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("drains 90 messages in 3 groups at receive speed, each archived once", async () => {
    const queueUrl = await backend.createQueue("batched-drain.fifo", { FifoQueue: "true", ContentBasedDeduplication: "true" });
    const bodies = Array.from({ length: 90 }, (_, i) => JSON.stringify({ group: i % 3, seq: Math.floor(i / 3) }));
    const sent = await sendAll(backend, queueUrl, bodies, (i) => ({ MessageGroupId: `g${i % 3}` }));
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: "fifo/",
        ARCHIVE_FORMAT: "ndjson",
        WAIT_TIME_SECONDS: "20",
      }),
    );
    const base = await svc.base();
    // Default BATCH_MAX_SECONDS (60): waiting for the age flush would take 30 minutes here.
    await waitForDrained(backend, queueUrl, 40_000);
    const lines = await readAllLines(backend, BUCKET, "fifo/");
    const ids = byMessageId(lines);
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const places of ids.values()) expect(places).toHaveLength(1);
    expect(await metricValue(base, "sqs_archiver_batch_flushes_total", { reason: "fifo" })).toBeGreaterThan(0);
    svc.child.kill("SIGTERM");
    expect((await svc.exited).code).toBe(0);
  }, 90_000);
});
