import { describe, expect, it } from "vitest";
import { HealthState, stuckThresholdMs } from "../../src/http/health.js";

describe("HealthState", () => {
  function make() {
    let now = 1_000_000;
    const h = new HealthState({ loops: 2, stuckAfterMs: 10_000 }, () => now);
    return { h, advance: (ms: number) => (now += ms) };
  }

  it("is live but not ready until a receive succeeds", () => {
    const { h } = make();
    h.setRunning(true);
    const s = h.snapshot();
    expect(s.live.ok).toBe(true);
    expect(s.ready.ok).toBe(false);
    expect(s.ready.body.reason).toBe("no successful receive yet");
    h.receiveSucceeded(0);
    expect(h.snapshot().ready.ok).toBe(true);
  });

  it("stays live through an AWS outage while loops keep trying, but is not ready", () => {
    const { h, advance } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    h.receiveSucceeded(1);
    for (let i = 0; i < 100; i++) {
      advance(5_000);
      h.receiveFailed(0, "connection");
      h.receiveFailed(1, "connection");
    }
    const s = h.snapshot();
    expect(s.live.ok).toBe(true);
    expect(s.ready.ok).toBe(false);
    expect(String(s.ready.body.reason)).toContain("connection");
  });

  it("fails liveness when a loop makes no progress", () => {
    const { h, advance } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    advance(6_000);
    h.loopProgress(0);
    advance(6_000);
    const s = h.snapshot();
    expect(s.live.ok).toBe(false);
    expect(s.live.body.status).toBe("unhealthy");
    expect(String(s.live.body.reason)).toContain("1 of 2");
  });

  it("is not ready while S3 is failing or during shutdown", () => {
    const { h } = make();
    h.setRunning(true);
    h.receiveSucceeded(0);
    h.sinkFailed("bucket_not_found");
    expect(h.snapshot().ready.body.reason).toContain("bucket_not_found");
    h.sinkRecovered();
    expect(h.snapshot().ready.ok).toBe(true);
    h.beginShutdown();
    expect(h.snapshot().ready.body.reason).toBe("shutting down");
  });
});

describe("stuckThresholdMs", () => {
  it("outlasts a long poll plus a PutObject with all its attempts", () => {
    expect(stuckThresholdMs({ waitTimeSeconds: 20, s3RequestTimeoutSeconds: 30, pollIntervalSeconds: 0 })).toBe(230_000);
  });
  it("outlasts a long POLL_INTERVAL_SECONDS pause, so an idle queue never fails liveness", () => {
    expect(stuckThresholdMs({ waitTimeSeconds: 0, s3RequestTimeoutSeconds: 5, pollIntervalSeconds: 3600 })).toBeGreaterThan(3600_000);
  });
  it("is never under two minutes", () => {
    expect(stuckThresholdMs({ waitTimeSeconds: 0, s3RequestTimeoutSeconds: 1, pollIntervalSeconds: 0 })).toBe(120_000);
  });
});
