import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { byMessageId, readAllLines } from "../support/archive-reader.js";
import { metricValue } from "../support/harness.js";
import { sendAll, waitForDrained } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * MAX_INFLIGHT_BYTES smaller than BATCH_MAX_BYTES (a small pod: the budget derived from its memory limit is below the
 * 16 MiB default batch): the open batch fills the budget before it reaches its size, so receiving would wait for the
 * batch's age flush, BATCH_MAX_SECONDS per cycle. Receiving keeps moving instead: when admission is blocked on bytes,
 * the largest open batch is closed and written.
 */
const BUCKET = "byte-budget-below-batch";

describe("a byte budget smaller than one batch", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("never stalls receiving until the age flush: the backlog drains at write speed, every message once", async () => {
    const queueUrl = await backend.createQueue("small-budget");
    // 120 incompressible 40 KiB bodies: 4.7 MiB through a 1 MiB budget.
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 120 }, () => randomBytes(30 * 1024).toString("base64")));
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: "budget/",
        ARCHIVE_FORMAT: "ndjson",
        MAX_INFLIGHT_BYTES: String(1024 * 1024),
        BATCH_MAX_BYTES: String(16 * 1024 * 1024),
        BATCH_MAX_SECONDS: "120",
      }),
    );
    const base = await svc.base();
    await waitForDrained(backend, queueUrl, 40_000);
    const ids = byMessageId(await readAllLines(backend, BUCKET, "budget/"));
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [id, body] of sent) expect(ids.get(id)?.[0]?.envelope.body).toBe(body);
    expect(await metricValue(base, "sqs_archiver_batch_flushes_total", { reason: "budget" })).toBeGreaterThan(0);
    expect(await metricValue(base, "sqs_archiver_batch_flushes_total", { reason: "age" })).toBe(0);
    svc.child.kill("SIGTERM");
    expect((await svc.exited).code).toBe(0);
  }, 90_000);
});
