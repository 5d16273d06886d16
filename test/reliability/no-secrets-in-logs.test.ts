import { describe, expect, it } from "vitest";
import { metricValue, waitFor } from "../support/harness.js";
import { sendAll } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * No message body, message attribute value or credential ever appears in a log line, at any level, including on
 * every error path (S3 failures, delete failures, MD5 mismatches, receive failures) and through shutdown. The real
 * process runs at LOG_LEVEL=trace with unique markers in bodies, attributes and credentials; its whole stdout and
 * stderr are searched for them.
 */
const BUCKET = "no-secrets";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETMARKER1";
const SESSION = "FwoGZXIvYXdzSESSIONTOKENMARKER2//////////wEaDA";
const BODY_MARK = "BODYMARKER3";
const ATTR_MARK = "ATTRMARKER4";

describe("no secrets in logs", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("at trace level, through every error path, no body, attribute value or credential is logged", async () => {
    const queueUrl = await backend.createQueue("secrets-q");
    // Error paths: some writes fail, some deletes fail (6 = two calls of 3 SDK attempts), some receives fail, one body is corrupted in transit.
    let receives = 0;
    backend.proxy.setFaults([
      { match: (op) => op.name === "PutObject", action: { kind: "status", status: 500, code: "InternalError" }, probability: 0.3 },
      { match: (op) => op.name === "PutObject", action: { kind: "status", status: 403, code: "AccessDenied" }, times: 2 },
      { match: (op) => op.name === "DeleteMessageBatch", action: { kind: "status", status: 500, code: "InternalError" }, times: 6 },
      { match: (op) => op.name === "ReceiveMessage" && ++receives >= 5 && receives <= 10, action: { kind: "reset" } },
    ]);
    backend.proxy.setTransforms({
      response(op, body, _req, status) {
        if (op.name !== "ReceiveMessage" || status !== 200) return body;
        const text = body.toString("utf8");
        return text.includes(`${BODY_MARK}-corrupt`) ? Buffer.from(text.replace(`${BODY_MARK}-corrupt`, `${BODY_MARK}-CORRUPT`)) : body;
      },
    });
    const bodies = Array.from({ length: 30 }, (_, i) => JSON.stringify({ secret: `${BODY_MARK}-${i}`, password: "hunter2" }));
    bodies.push(`${BODY_MARK}-corrupt`);
    await sendAll(backend, queueUrl, bodies, (i) => ({
      MessageAttributes: {
        token: { DataType: "String", StringValue: `${ATTR_MARK}-${i}` },
        blob: { DataType: "Binary", BinaryValue: Buffer.from(`${ATTR_MARK}-bin-${i}`) },
      },
    }));

    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        LOG_LEVEL: "trace",
        CONCURRENCY: "2",
        VISIBILITY_TIMEOUT_SECONDS: "2",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SESSION_TOKEN: SESSION,
      }),
    );
    const base = await svc.base();
    // Every good message archived and deleted; the corrupt one keeps failing verification.
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_deleted_total")) >= bodies.length - 1, 40_000, 200);
    await waitFor(async () => (await metricValue(base, "sqs_archiver_failures_total", { stage: "verify" })) >= 1, 10_000);
    backend.proxy.clearFaults();
    svc.child.kill("SIGTERM");
    expect((await svc.exited).code).toBe(0);

    const all = [...svc.stdout, ...svc.stderr].join("\n");
    // The error paths really were exercised, at the most verbose level.
    for (const event of ["archive_failed", "delete_failed", "message_rejected", "receive_failed", "shutdown_complete"]) {
      expect(svc.events(event).length, event).toBeGreaterThan(0);
    }
    expect(svc.stdout.length).toBeGreaterThan(20);
    for (const needle of [
      BODY_MARK,
      "hunter2",
      ATTR_MARK,
      Buffer.from(`${ATTR_MARK}-bin-0`).toString("base64").slice(0, 12),
      SECRET,
      SECRET.slice(0, 20),
      SESSION,
      SESSION.slice(0, 20),
      "AWS4-HMAC-SHA256",
      "Signature=",
      "X-Amz-Security-Token",
    ]) {
      expect(all.includes(needle), `log output contains ${needle}`).toBe(false);
    }
    backend.proxy.setTransforms({});
  }, 90_000);
});
