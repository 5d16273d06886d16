import { describe, expect, it } from "vitest";
import type { AwsProxy, Op } from "../support/aws-proxy.js";
import { metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { countPutsPerKey, expectExactlyOnce, readArchive, sendAll, sleep, waitForDrained, waitForKeys } from "../support/reliability.js";

/**
 * DeleteMessageBatch failing per entry or as a whole. An archived message whose delete fails is either retried at
 * once (a transient per-entry failure) or left to redeliver; the redelivery maps to the same key, the write-once put
 * answers 412 and the message is deleted as a duplicate. The archive itself is never rewritten.
 */
const BUCKET = "delete-failures";
const FAILED_MARK = "proxy-failed-";

/**
 * Makes chosen DeleteMessageBatch entries fail: their receipt handle is swapped for garbage on the way in (the
 * emulator then deletes nothing for them) and the entry is reported in `Failed` on the way out.
 */
function injectDeleteFailures(proxy: AwsProxy, shouldFail: (body: string, receiptHandle: string) => boolean, failure: { code: string; senderFault: boolean }) {
  const bodyByHandle = new Map<string, string>();
  proxy.setTransforms({
    request(op: Op, body: Buffer) {
      if (op.name !== "DeleteMessageBatch") return body;
      const req = JSON.parse(body.toString("utf8")) as { Entries: Array<{ Id: string; ReceiptHandle: string }> };
      for (const e of req.Entries) {
        const b = bodyByHandle.get(e.ReceiptHandle);
        if (b !== undefined && shouldFail(b, e.ReceiptHandle)) e.ReceiptHandle = `${FAILED_MARK}${e.ReceiptHandle}`;
      }
      return Buffer.from(JSON.stringify(req));
    },
    response(op: Op, body: Buffer, request: Buffer, status: number) {
      if (status !== 200) return body;
      if (op.name === "ReceiveMessage") {
        const out = JSON.parse(body.toString("utf8")) as { Messages?: Array<{ Body: string; ReceiptHandle: string }> };
        for (const m of out.Messages ?? []) bodyByHandle.set(m.ReceiptHandle, m.Body);
        return body;
      }
      if (op.name !== "DeleteMessageBatch") return body;
      const req = JSON.parse(request.toString("utf8")) as { Entries: Array<{ Id: string; ReceiptHandle: string }> };
      const failedIds = new Set(req.Entries.filter((e) => e.ReceiptHandle.startsWith(FAILED_MARK)).map((e) => e.Id));
      if (failedIds.size === 0) return body;
      const out = JSON.parse(body.toString("utf8")) as { Successful?: Array<{ Id: string }>; Failed?: unknown[] };
      out.Successful = (out.Successful ?? []).filter((s) => !failedIds.has(s.Id));
      out.Failed = [...(out.Failed ?? []), ...[...failedIds].map((Id) => ({ Id, Code: failure.code, SenderFault: failure.senderFault, Message: "injected by test proxy" }))];
      return Buffer.from(JSON.stringify(out));
    },
  });
}

describe("DeleteMessageBatch failures", () => {
  const backend = useBackend(BUCKET);

  it("a transient per-entry failure is retried at once: deleted without waiting for a redelivery", async () => {
    const prefix = "transient/";
    const queueUrl = await backend.createQueue("delete-transient");
    const bodies = Array.from({ length: 20 }, (_, j) => `transient ${j}`);
    const seen = new Set<string>();
    let failures = 0;
    // The first delete attempt of every other message fails with a server-side code; the retry goes through.
    const victims = new Set(bodies.filter((_, j) => j % 2 === 0));
    injectDeleteFailures(
      backend.proxy,
      (id, handle) => {
        if (!victims.has(id) || seen.has(handle)) return false;
        seen.add(handle);
        failures++;
        return true;
      },
      { code: "InternalError", senderFault: false },
    );
    // Visibility far beyond the test: a message that was not really deleted would stay in flight and fail the drain.
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "60" });
    try {
      const sent = await sendAll(backend, queueUrl, bodies);
      await waitForKeys(backend, BUCKET, prefix, sent.size);
      await waitForDrained(backend, queueUrl, 10_000);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      expect(failures).toBe(victims.size);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete", reason: "InternalError" })).toBe(victims.size);
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
    } finally {
      backend.proxy.setTransforms({});
      await svc.stop();
    }
  });

  it("an entry that keeps failing is left to redeliver; the redelivery is a 412 duplicate and is deleted", async () => {
    const prefix = "persistent/";
    const queueUrl = await backend.createQueue("delete-persistent");
    const bodies = Array.from({ length: 20 }, (_, j) => `persistent ${j} <&>`);
    const victimBodies = new Set(bodies.filter((_, j) => j % 3 === 0));
    const firstHandle = new Map<string, string>();
    // Every delete of a victim's first delivery fails (attempt and retry); its redelivery's handle deletes fine.
    injectDeleteFailures(
      backend.proxy,
      (b, handle) => {
        if (!victimBodies.has(b)) return false;
        if (!firstHandle.has(b)) firstHandle.set(b, handle);
        return firstHandle.get(b) === handle;
      },
      { code: "InternalError", senderFault: false },
    );
    const puts = new Map<string, number>();
    backend.proxy.setFaults([countPutsPerKey(puts)]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      const sent = await sendAll(backend, queueUrl, bodies);
      const victims = new Set([...sent].filter(([, b]) => victimBodies.has(b)).map(([id]) => id));
      await waitForKeys(backend, BUCKET, prefix, sent.size);
      const firstArchive = await readArchive(backend, BUCKET, prefix);
      await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")) >= victims.size, 20_000, 100);
      await waitForDrained(backend, queueUrl, 15_000);
      const archive = await expectExactlyOnce(backend, BUCKET, prefix, sent);
      // Never rewritten: the object is the one the first delivery wrote.
      for (const [id, env] of archive) expect(env.archivedAt, id).toBe(firstArchive.get(id)?.archivedAt);
      for (const id of victims) expect(archive.get(id)?.attributes.ApproximateReceiveCount, id).toBe("1");
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBe(victims.size);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete", reason: "InternalError" })).toBe(victims.size * 2);
      expect(backend.proxy.preconditionFailures).toBeGreaterThanOrEqual(victims.size);
      // Each victim's key was PUT twice (the second answered 412 by the conditional write); others once.
      for (const [key, n] of puts) expect(n, key).toBe(victims.has(key.slice(key.lastIndexOf("/") + 1, -".json".length)) ? 2 : 1);
      expect(svc.logs.events("delete_failed").length).toBe(victims.size);
    } finally {
      backend.proxy.setTransforms({});
      backend.proxy.clearFaults();
      await svc.stop();
    }
  });

  it("a sender-fault entry failure is not retried in place; it redelivers and is detected as a duplicate", async () => {
    const prefix = "sender/";
    const queueUrl = await backend.createQueue("delete-sender");
    const handles = new Set<string>();
    injectDeleteFailures(
      backend.proxy,
      (b, handle) => {
        if (b !== "sender fault") return false;
        if (handles.size === 0) handles.add(handle);
        return handles.has(handle);
      },
      { code: "ReceiptHandleIsInvalid", senderFault: true },
    );
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      const sent = await sendAll(backend, queueUrl, ["sender fault"]);
      await waitForKeys(backend, BUCKET, prefix, 1);
      await waitFor(async () => (await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")) === 1, 15_000, 100);
      await waitForDrained(backend, queueUrl, 10_000);
      await expectExactlyOnce(backend, BUCKET, prefix, sent);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete", reason: "ReceiptHandleIsInvalid" })).toBe(1);
    } finally {
      backend.proxy.setTransforms({});
      await svc.stop();
    }
  });

  it("DeleteMessageBatch down for a window: archived messages redeliver, are deduplicated and deleted afterwards", async () => {
    const prefix = "outage/";
    const queueUrl = await backend.createQueue("delete-outage");
    backend.proxy.setFaults([{ match: (op) => op.name === "DeleteMessageBatch", action: { kind: "status", status: 500, code: "InternalError" } }]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: prefix, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 30 }, (_, j) => JSON.stringify({ outage: j })));
      await waitForKeys(backend, BUCKET, prefix, sent.size);
      const firstArchive = await readArchive(backend, BUCKET, prefix);
      await sleep(2500);
      // Still all there: deletes are failing, nothing was lost from the queue's point of view either.
      const depth = await backend.queueDepth(queueUrl);
      expect(depth.visible + depth.inFlight).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "delete", reason: "server_error" })).toBeGreaterThan(0);
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(0);

      backend.proxy.clearFaults();
      await waitForDrained(backend, queueUrl, 20_000);
      const archive = await expectExactlyOnce(backend, BUCKET, prefix, sent);
      for (const [id, env] of archive) expect(env.archivedAt, id).toBe(firstArchive.get(id)?.archivedAt);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_duplicate_deliveries_total")).toBeGreaterThanOrEqual(sent.size);
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(sent.size);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  });
});
