import { describe, expect, it } from "vitest";
import { metricValue, waitFor } from "../support/harness.js";
import { sendAll } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * SIGTERM while S3 refuses every write (503 SlowDown on every attempt): the open batch's flush cannot become durable.
 * Its messages must not be left invisible for the visibility timeout (12.5 minutes with these settings) after a stop:
 * the flush is retried within the shutdown budget, and what is still not durable is released (visibility 0) before
 * the process exits. The stop's summary says so: not clean, and how many messages were released and why.
 */
const BUCKET = "shutdown-flush-failure";

describe("a batch flush that fails for good during SIGTERM", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("leaves nothing invisible after the stop: the batch is retried, then its messages are released, and the summary says so", async () => {
    const queueUrl = await backend.createQueue("flush-fails-on-stop");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 30 }, (_, i) => `stop ${i}`));
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: "stop/",
        ARCHIVE_FORMAT: "ndjson",
        BATCH_MAX_SECONDS: "600",
        SHUTDOWN_TIMEOUT_SECONDS: "8",
      }),
    );
    const base = await svc.base();
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_buffered")) === sent.size, 20_000, 100);
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject", action: { kind: "status", status: 503, code: "SlowDown", message: "Please reduce your request rate." } }]);
    const t0 = Date.now();
    svc.child.kill("SIGTERM");
    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The flush was retried for the budget, not given up after the SDK's own attempts.
    expect(backend.proxy.counts.get("PutObject") ?? 0).toBeGreaterThan(4);
    expect(await backend.queueDepth(queueUrl)).toEqual({ visible: sent.size, inFlight: 0, delayed: 0 });
    expect(await backend.listKeys(BUCKET, "stop/")).toEqual([]);
    const [summary] = svc.events("shutdown_complete");
    expect(summary).toMatchObject({ clean: false, released: { notDurable: sent.size, unstarted: 0 }, releaseFailed: 0 });
  }, 60_000);
});
