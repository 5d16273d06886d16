import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, startService, waitFor, getJson, metricValue, type Backend, type RunningService } from "../support/harness.js";

describe("readiness and liveness probes", () => {
  let backend: Backend;
  let svc: RunningService;
  let queueUrl: string;

  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket("ready-bucket");
    queueUrl = await backend.createQueue("ready-q");
    // Receives fail until the fault is cleared: the service must not report ready before one succeeds.
    backend.proxy.setFaults([{ match: (op) => op.name === "ReceiveMessage", action: { kind: "status", status: 500, code: "InternalError" } }]);
    svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: "ready-bucket", CONCURRENCY: "2" });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
  });

  it("is live but not ready before the first successful receive", async () => {
    // One failed ReceiveMessage call (after the SDK's own retries) has been counted.
    await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_receive_requests_total", { result: "error" })) >= 1);
    const ready = await getJson(`${svc.base}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe("not_ready");
    expect(String(ready.body.reason)).toMatch(/^SQS receive failing: server_error/);
    const live = await getJson(`${svc.base}/health`);
    expect(live.status).toBe(200);
    expect(live.body.status).toBe("healthy");
    expect(live.body.last_poll).toBeNull();
  });

  it("becomes ready once a receive succeeds, and reports the last poll", async () => {
    backend.proxy.clearFaults();
    const ready = await waitFor(async () => {
      const r = await getJson(`${svc.base}/ready`);
      return r.status === 200 ? r : undefined;
    }, 30_000);
    expect(ready.body.status).toBe("ready");
    const live = await getJson(`${svc.base}/health`);
    expect(typeof live.body.last_poll).toBe("string");
    expect(Number.isNaN(Date.parse(String(live.body.last_poll)))).toBe(false);
  });

  it("serves nothing but the probes and metrics", async () => {
    expect((await fetch(`${svc.base}/`)).status).toBe(404);
    expect((await fetch(`${svc.base}/debug`)).status).toBe(404);
    const metrics = await fetch(`${svc.base}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    for (const name of [
      "sqs_archiver_messages_received_total",
      "sqs_archiver_messages_archived_total",
      "sqs_archiver_messages_deleted_total",
      "sqs_archiver_duplicate_deliveries_total",
      "sqs_archiver_failures_total",
      "sqs_archiver_messages_in_flight",
      "sqs_archiver_archive_duration_seconds",
      "sqs_archiver_message_age_seconds",
      "sqs_archiver_archived_bytes_total",
      "sqs_archiver_receive_requests_total",
      "sqs_archiver_last_poll_timestamp_seconds",
      "sqs_archiver_build_info",
      "process_cpu_seconds_total",
    ]) {
      expect(text, name).toContain(`# TYPE ${name}`);
    }
    expect(text).toMatch(/sqs_archiver_failures_total\{stage="receive",reason="server_error"\} [1-9]/);
    expect(text).toMatch(/sqs_archiver_receive_requests_total\{result="error"\} [1-9]/);
  });

  it("turns not ready at once when shutdown begins", async () => {
    const stopping = svc.stop();
    // return503OnClosing or the cached snapshot: either way not 200.
    const r = await fetch(`${svc.base}/ready`).catch(() => undefined);
    if (r) expect(r.status).toBe(503);
    const res = await stopping;
    expect(res.clean).toBe(true);
  });
});
