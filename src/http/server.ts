import Fastify, { type FastifyInstance } from "fastify";
import type { HealthSnapshot, HealthState } from "./health.js";
import { HEALTH_PATH, METRICS_PATH, READY_PATH } from "./http-contract.js";
import type { Metrics } from "../metrics.js";

export interface ProbeServerOptions {
  health: HealthState;
  metrics: Metrics;
  refreshMs?: number;
}

/**
 * Probes and metrics on one port, nothing else (every other path is 404). Health is computed on an unref'd timer
 * and served from the cached snapshot, closed in onClose.
 */
export interface ProbeServer {
  app: FastifyInstance;
  /** Recompute the cached snapshot now (state transitions such as shutdown must show at once). */
  refresh(): void;
}

export function createProbeServer({ health, metrics, refreshMs = 500 }: ProbeServerOptions): ProbeServer {
  const app = Fastify({ logger: false, return503OnClosing: true });
  let snap: HealthSnapshot = health.snapshot();
  const refresh = () => {
    snap = health.snapshot();
    metrics.ready.set(snap.ready.ok ? 1 : 0);
  };
  refresh();
  const timer = setInterval(refresh, refreshMs);
  timer.unref();
  app.addHook("onClose", async () => clearInterval(timer));

  app.get(HEALTH_PATH, async (_req, reply) => {
    reply.code(snap.live.ok ? 200 : 503).header("cache-control", "no-store");
    return snap.live.body;
  });
  app.get(READY_PATH, async (_req, reply) => {
    reply.code(snap.ready.ok ? 200 : 503).header("cache-control", "no-store");
    return snap.ready.body;
  });
  app.get(METRICS_PATH, async (_req, reply) => {
    refresh();
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return { app, refresh };
}
