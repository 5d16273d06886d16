import { describe, expect, it } from "vitest";
import { metricValue, waitFor } from "../support/harness.js";
import { sendAll, sleep } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * Issue 8, suspected: "log.flush() does nothing with pino's asynchronous stdout". Confirmed: pino's default stdout
 * stream is sonic-boom with minLength 0, whose flush() is documented as a no-op then; at process.exit pino's exit hook
 * calls flushSync(), which skips the chunk an asynchronous write still owns. When the log collector is behind (the
 * pipe is full), that chunk (up to 16 KiB of lines) is lost. The service now writes its log lines synchronously.
 *
 * Reproduced with the real process at debug level (a line per archived message): the test stops reading the
 * service's stdout while it works, so the pipe fills, sends SIGTERM, then reads again. Every line logged must arrive:
 * one `archived` line per object in the bucket, and the shutdown lines last.
 */
const BUCKET = "last-log-lines";
const PREFIX = "logs/";

describe("the last log lines before exit", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  it("SIGTERM while the log pipe is full: no line is lost, shutdown_complete is there", async () => {
    const queueUrl = await backend.createQueue("last-log-lines-q");
    await sendAll(backend, queueUrl, Array.from({ length: 3000 }, (_, i) => `log load ${i}`));
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: PREFIX,
        CONCURRENCY: "8",
        LOG_LEVEL: "debug",
        VISIBILITY_TIMEOUT_SECONDS: "120",
        SHUTDOWN_TIMEOUT_SECONDS: "10",
      }),
    );
    const base = await svc.base();
    await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_deleted_total")) >= 50, 20_000, 20);

    // The collector falls behind: nothing is read for a while, the pipe fills up.
    svc.child.stdout?.pause();
    await sleep(3000);
    svc.child.kill("SIGTERM");
    await sleep(1500);
    svc.child.stdout?.resume();
    const exit = await svc.exited;
    await sleep(200);
    expect(exit.code).toBe(0);

    const unparsable = svc.stdout.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(unparsable).toEqual([]);
    const events = svc.logs().map((l) => String(l.event));
    expect(events).toContain("signal");
    expect(events).toContain("shutdown_started");
    expect(events.at(-1)).toBe("shutdown_complete");
    // Every archive written has its line (the service logs `archived` before it deletes).
    const keys = await backend.listKeys(BUCKET, PREFIX);
    expect(keys.length).toBeGreaterThan(50);
    expect(svc.events("archived").length).toBe(keys.length);
  }, 60_000);
});
