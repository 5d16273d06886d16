import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startFauxqs, type FauxqsServer } from "fauxqs";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient, type MessageAttributeValue } from "@aws-sdk/client-sqs";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { loadConfig, type Config } from "../../src/config.js";
import { createAwsClients } from "../../src/aws/aws-clients.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { ArchiverService } from "../../src/service.js";
import { startAwsProxy, type AwsProxy, type ProxyOptions } from "./aws-proxy.js";

export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
export const REGION = "us-east-1";

export interface Backend {
  fauxqs: FauxqsServer;
  proxy: AwsProxy;
  /** What the service talks to: the proxy. */
  endpoint: string;
  /** Test-side clients talk to the emulator directly, bypassing faults. */
  sqs: SQSClient;
  s3: S3Client;
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  createBucket(name: string): void;
  send(queueUrl: string, body: string, attrs?: Record<string, MessageAttributeValue>, extra?: Record<string, unknown>): Promise<string>;
  sendMany(queueUrl: string, bodies: string[], extra?: (i: number) => Record<string, unknown>): Promise<string[]>;
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  getText(bucket: string, key: string): Promise<string>;
  queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  close(): Promise<void>;
}

export async function startBackend(proxyOptions: Omit<ProxyOptions, "upstream"> = {}): Promise<Backend> {
  const fauxqs = await startFauxqs({ port: 0, logger: false, host: "localhost" });
  const proxy = await startAwsProxy({ upstream: fauxqs.address, ...proxyOptions });
  const common = { region: REGION, credentials: TEST_CREDENTIALS, endpoint: fauxqs.address };
  const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  return {
    fauxqs,
    proxy,
    endpoint: proxy.url,
    sqs,
    s3,
    async createQueue(name, attributes) {
      const out = await sqs.send(new CreateQueueCommand({ QueueName: name, ...(attributes ? { Attributes: attributes } : {}) }));
      return out.QueueUrl as string;
    },
    createBucket(name) {
      fauxqs.createBucket(name);
    },
    async send(queueUrl, body, attrs, extra) {
      const out = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...(attrs ? { MessageAttributes: attrs } : {}), ...(extra ?? {}) }));
      return out.MessageId as string;
    },
    async sendMany(queueUrl, bodies, extra) {
      const ids: string[] = [];
      for (let i = 0; i < bodies.length; i += 10) {
        const chunk = bodies.slice(i, i + 10);
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((b, j) => ({ Id: `e${j}`, MessageBody: b, ...(extra ? extra(i + j) : {}) })),
          }),
        );
        if (out.Failed?.length) throw new Error(`send failed: ${JSON.stringify(out.Failed)}`);
        const byId = new Map((out.Successful ?? []).map((s) => [s.Id, s.MessageId as string]));
        chunk.forEach((_, j) => ids.push(byId.get(`e${j}`) as string));
      }
      return ids;
    },
    async listKeys(bucket, prefix = "") {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of out.Contents ?? []) keys.push(o.Key as string);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    async getText(bucket, key) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await out.Body?.transformToString("utf8")) as string;
    },
    async queueDepth(queueUrl) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        }),
      );
      const a = out.Attributes ?? {};
      return {
        visible: Number(a.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    },
    async close() {
      sqs.destroy();
      s3.destroy();
      await proxy.close();
      await fauxqs.stop();
    },
  };
}

/** Captures the service's JSON log lines in memory. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    }
    cb();
  }
  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === name);
  }
}

export interface RunningService {
  service: ArchiverService;
  config: Config;
  logs: LogCapture;
  log: Logger;
  base: string;
  stop(): ReturnType<ArchiverService["stop"]>;
}

export async function startService(backend: Backend, env: Record<string, string>): Promise<RunningService> {
  const config = loadConfig({
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: backend.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    HEALTH_PORT: "0",
    WAIT_TIME_SECONDS: "1",
    LOG_LEVEL: "debug",
    ...env,
  });
  const logs = new LogCapture();
  const log = createLogger(config.logLevel, logs);
  const clients = createAwsClients(config, async () => TEST_CREDENTIALS);
  const service = new ArchiverService({ config, log, version: "test", nodeVersion: process.versions.node, clients, host: "127.0.0.1" });
  await service.start();
  return { service, config, logs, log, base: `http://127.0.0.1:${service.port}`, stop: () => service.stop() };
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`waitFor timed out after ${timeoutMs}ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function metricValue(base: string, name: string, labels?: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z0-9_:]+)(\{[^}]*\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels) {
      const ls = m[2] ?? "";
      if (!Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) continue;
    }
    sum += Number(m[3]);
  }
  return sum;
}

/**
 * One emulator + proxy (with `bucket` created) for the enclosing describe block. The returned object forwards to the
 * backend started in beforeAll, so tests use it like a plain Backend.
 */
export function useBackend(bucket: string, proxyOptions: Omit<ProxyOptions, "upstream"> = {}): Backend {
  let current: Backend | undefined;
  beforeAll(async () => {
    current = await startBackend(proxyOptions);
    current.createBucket(bucket);
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as Backend, {
    get(_target, prop) {
      if (!current) throw new Error("useBackend: backend used outside its describe block");
      const value = (current as unknown as Record<string | symbol, unknown>)[prop];
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}

/**
 * Backends and services a test starts for itself; after each test the services are stopped first, then the
 * backends closed, whatever the test did.
 */
export function perTest(): {
  backend(bucket: string, proxyOptions?: Omit<ProxyOptions, "upstream">): Promise<Backend>;
  service(backend: Backend, env: Record<string, string>): Promise<RunningService>;
} {
  const services: RunningService[] = [];
  const backends: Backend[] = [];
  afterEach(async () => {
    for (const svc of services.splice(0)) await svc.stop();
    for (const backend of backends.splice(0)) await backend.close();
  });
  return {
    async backend(bucket, proxyOptions = {}) {
      const backend = await startBackend(proxyOptions);
      backends.push(backend);
      backend.createBucket(bucket);
      return backend;
    },
    async service(backend, env) {
      const svc = await startService(backend, env);
      services.push(svc);
      return svc;
    },
  };
}
