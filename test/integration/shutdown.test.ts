import { describe, expect, it } from "vitest";
import { perTest, waitFor, metricValue } from "../support/harness.js";

const BUCKET = "stop-bucket";

describe("graceful shutdown", () => {
  const t = perTest();

  it("finishes in-flight archives and their deletes before stopping", async () => {
    const backend = await t.backend(BUCKET, { latencyMs: { PutObject: 1_500 } });
    const queueUrl = await backend.createQueue("stop-q");
    const ids = await backend.sendMany(queueUrl, Array.from({ length: 20 }, (_, i) => `in flight ${i}`));
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", SHUTDOWN_TIMEOUT_SECONDS: "10" });
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_messages_in_flight")) > 0);
    const received = await metricValue(svc.base, "sqs_archiver_messages_received_total");
    expect(received).toBeGreaterThan(0);

    const res = await svc.stop();
    expect(res.clean).toBe(true);
    expect(res.elapsedMs).toBeLessThan(10_000);

    // Immediately after stop: nothing is left invisible; each message is either archived+deleted or back in the queue.
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.inFlight).toBe(0);
    const keys = await backend.listKeys(BUCKET);
    expect(keys.length).toBeGreaterThanOrEqual(received);
    expect(keys.length + depth.visible).toBe(ids.length);
    for (const k of keys) expect(ids.some((id) => k.includes(id))).toBe(true);
    expect(svc.logs.events("shutdown_complete")).toHaveLength(1);
  });

  it("releases messages that a long poll brings in after shutdown began (visibility 0), unstarted", async () => {
    // The proxy holds ReceiveMessage responses for 1.5 s: the emulator has already handed the messages over.
    const backend = await t.backend(BUCKET, { latencyMs: { ReceiveMessage: 1_500 } });
    const queueUrl = await backend.createQueue("stop-q2");
    await backend.sendMany(queueUrl, ["late 1", "late 2", "late 3", "late 4", "late 5"]);
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "60" });
    await waitFor(() => (backend.proxy.counts.get("ReceiveMessage") ?? 0) >= 1);
    await waitFor(async () => (await backend.queueDepth(queueUrl)).inFlight === 5);
    const res = await svc.stop();
    expect(res.clean).toBe(true);
    const depth = await backend.queueDepth(queueUrl);
    // Without the release they would stay invisible for 60 s.
    expect(depth).toMatchObject({ visible: 5, inFlight: 0 });
    expect(await backend.listKeys(BUCKET)).toHaveLength(0);
    expect(svc.logs.events("released")[0]?.why).toBe("shutdown");
  });

  it("aborts a long poll still open at the deadline and still exits within the budget", async () => {
    // Receives hang (never answered): shutdown must not wait past SHUTDOWN_TIMEOUT_SECONDS.
    const backend = await t.backend(BUCKET);
    const queueUrl = await backend.createQueue("stop-q3");
    const svc = await t.service(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", SHUTDOWN_TIMEOUT_SECONDS: "3" });
    await waitFor(async () => (await fetch(`${svc.base}/ready`)).status === 200);
    backend.proxy.setFaults([{ match: (op) => op.name === "ReceiveMessage", action: { kind: "hang" } }]);
    await new Promise((r) => setTimeout(r, 1_500));
    const t0 = Date.now();
    const res = await svc.stop();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(res.elapsedMs).toBeLessThan(3_000);
    expect(svc.logs.events("shutdown_abort_receives")).toHaveLength(1);
  });
});
