/** Probe and metrics paths; the k8s manifests and Helm chart are tested against these. */
export const HEALTH_PATH = "/health";
export const READY_PATH = "/ready";
export const METRICS_PATH = "/metrics";
export const DEFAULT_HEALTH_PORT = 8080;
