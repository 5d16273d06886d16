import { describe, expect, it } from "vitest";
import { byMessageId, readAllLines } from "../support/archive-reader.js";
import { metricValue, waitFor, type Backend } from "../support/harness.js";
import { sendAll, waitForDrained } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * Batched mode with the real process (node dist/main.js), the way a pod runs it: kill -9 while batches are open and
 * being written loses nothing; SIGTERM writes every open batch, deletes its messages and exits 0 in time; hostile
 * bodies (1 MiB, escapes, controls, every JSON special) survive compression byte for byte; a visibility timeout that
 * cannot cover a batch is refused before any AWS call.
 */
const BUCKET = "ndjson-process";

describe("ndjson mode, real process", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("kill -9 with batches open and one being written, then restart: every message archived, none missing, duplicates counted", async () => {
    const queueUrl = await backend.createQueue("ndjson-crash");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 600 }, (_, i) => JSON.stringify({ i, pad: "p".repeat(i % 300) })));
    const env = serviceEnv(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: "crash/",
      ARCHIVE_FORMAT: "ndjson",
      BATCH_MAX_MESSAGES: "100",
      BATCH_MAX_SECONDS: "1",
      S3_REQUEST_TIMEOUT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "6",
    });
    const first = spawn(env);
    const base1 = await first.base();
    await waitFor(async () => (await metricValue(base1, "sqs_archiver_messages_deleted_total")) >= 100, 20_000, 100);
    // From now on deletes hang: objects are written but their messages stay in flight when the process dies.
    backend.proxy.setFaults([{ match: (op) => op.name === "DeleteMessageBatch", action: { kind: "hang" } }]);
    await waitFor(
      async () => (await metricValue(base1, "sqs_archiver_messages_archived_total")) - (await metricValue(base1, "sqs_archiver_messages_deleted_total")) >= 100,
      10_000,
      100,
    );
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    backend.proxy.clearFaults();

    const second = spawn(env);
    const base2 = await second.base();
    await waitForDrained(backend, queueUrl, 60_000);
    const ids = byMessageId(await readAllLines(backend, BUCKET, "crash/"));
    const missing = [...sent.keys()].filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    for (const [id, body] of sent) expect(ids.get(id)?.[0]?.envelope.body).toBe(body);
    const duplicated = [...ids.values()].filter((p) => p.length > 1).length;
    // Messages archived before the crash came back: as second lines, or as an identical batch answered 412.
    const alreadyStored = await metricValue(base2, "sqs_archiver_batches_written_total", { outcome: "already_stored" });
    expect(duplicated + alreadyStored).toBeGreaterThan(0);
    // Every duplicate line came back as a redelivery and was counted as one by the second process.
    expect(await metricValue(base2, "sqs_archiver_redeliveries_total")).toBeGreaterThanOrEqual(duplicated);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 120_000);

  it("SIGTERM writes every open batch, deletes its messages and exits 0 within SHUTDOWN_TIMEOUT_SECONDS", async () => {
    const queueUrl = await backend.createQueue("ndjson-sigterm");
    const hostile = [
      "x".repeat(1024 * 1024 - 64) + '"\\\n\r\t</script>',
      '"'.repeat(200_000),
      "\n".repeat(50_000),
      '{"not": "closed"',
      "\t \r\n \u0085\u2028\u2029 \ufeff \ufffd \ud7ff \ue000",
      "<?xml version='1.0'?><a b=\"&lt;\">]]></a>",
    ];
    const sent = new Map<string, string>();
    for (const b of hostile) sent.set(await backend.send(queueUrl, b), b);
    for (const [id, b] of await sendAll(backend, queueUrl, Array.from({ length: 40 }, (_, i) => `small ${i}`))) sent.set(id, b);

    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: "term/",
        ARCHIVE_FORMAT: "ndjson",
        ARCHIVE_COMPRESSION: "zstd",
        BATCH_MAX_SECONDS: "600",
        SHUTDOWN_TIMEOUT_SECONDS: "10",
      }),
    );
    const base = await svc.base();
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_buffered")) === sent.size, 20_000, 100);
    expect(await backend.listKeys(BUCKET, "term/")).toEqual([]);
    const t0 = Date.now();
    svc.child.kill("SIGTERM");
    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const lines = await readAllLines(backend, BUCKET, "term/");
    const ids = byMessageId(lines);
    expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
    for (const [id, body] of sent) {
      const got = ids.get(id)?.[0]?.envelope.body as string;
      if (got !== body) expect(Buffer.from(got).equals(Buffer.from(body)), `body of ${id}`).toBe(true);
    }
    expect(lines.every((l) => l.key.endsWith(".ndjson.zst"))).toBe(true);
    expect(await backend.queueDepth(queueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(svc.events("batch_written").map((l) => l.reason)).toEqual(["shutdown"]);
    expect(svc.events("shutdown_complete")).toMatchObject([{ clean: true }]);
  }, 60_000);

  it("refuses a visibility timeout that cannot cover an open batch plus its write: exit 78, one line naming the rule", async () => {
    const svc = spawn(
      serviceEnv({ endpoint: "http://127.0.0.1:9" } as Backend, {
        SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        S3_BUCKET_NAME: "my-archive",
        ARCHIVE_FORMAT: "ndjson",
        BATCH_MAX_SECONDS: "60",
        S3_REQUEST_TIMEOUT_SECONDS: "30",
        VISIBILITY_TIMEOUT_SECONDS: "120",
      }),
    );
    const exit = await svc.exited;
    expect(exit.code).toBe(78);
    expect(svc.stderr).toHaveLength(1);
    expect(svc.stderr[0]).toMatch(/VISIBILITY_TIMEOUT_SECONDS="120": must be more than BATCH_MAX_SECONDS \+ 4 x S3_REQUEST_TIMEOUT_SECONDS = 180/);
    expect(svc.stdout.filter((l) => l.includes('"event":"started"'))).toEqual([]);
  });
});
