/**
 * An HTTP proxy between the service and the emulator, used by tests and the benchmark. It:
 *  - implements S3 conditional writes (`If-None-Match: *` -> 412 PreconditionFailed when the key exists), which
 *    fauxqs ignores, so the write-once path is exercised as it behaves on AWS;
 *  - injects faults per operation (HTTP errors with AWS-shaped bodies, connection resets, hangs);
 *  - injects latency per operation, releasing each response at max(upstream done, arrival + target);
 *  - records the SQS requests it saw, so tests can assert what the service asked for.
 * Self-contained (node built-ins only) so the benchmark can import it with Node's type stripping.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Service = "sqs" | "s3" | "other";
export interface Op {
  service: Service;
  /** SQS: the X-Amz-Target action (ReceiveMessage); S3: PutObject, GetObject, HeadObject, ListObjectsV2, ... */
  name: string;
  /** S3 object key (path-style), when there is one. */
  key?: string;
  /** The region the request was signed for (SigV4 credential scope), when it is signed. */
  region?: string;
}

export type FaultAction =
  | {
      kind: "status";
      status: number;
      code: string;
      message?: string;
      /** Extra response headers (e.g. `x-amz-bucket-region` on a 301 PermanentRedirect). */
      headers?: Record<string, string>;
      /** Replaces the generated AWS-shaped error body. HEAD requests never get a body. */
      body?: string;
    }
  | { kind: "reset" }
  /** Forward the request upstream (it takes effect there: the object is stored, the messages received), then reset the
   * client's connection instead of answering: a response lost on the way back. */
  | { kind: "reset-after-forward" }
  /** Store-then-answer-late: forward the request (it takes effect upstream, conditional check included) and hold the
   * answer `delayMs` before sending it: an S3 brownout whose answers arrive after the client's timeout. */
  | { kind: "late"; delayMs: number }
  | { kind: "hang" };

export interface FaultRule {
  match: (op: Op) => boolean;
  action: FaultAction;
  /** 0..1, default 1. */
  probability?: number;
  /** Stop applying after this many hits. */
  times?: number;
  /** Hits so far (maintained by the proxy). */
  hits?: number;
  /** Wall-clock window (Date.now() ms) in which the rule applies, e.g. "answer every PUT late for 8 s". */
  fromMs?: number;
  untilMs?: number;
}

/**
 * Rewrites a request body before it is forwarded, or a response body before it is returned (tests use these to
 * corrupt an MD5OfBody or to turn DeleteMessageBatch entries into per-entry failures). Return the input unchanged
 * to leave it alone. `request` is the (possibly rewritten) request body that was forwarded.
 */
export interface ProxyTransforms {
  request?: (op: Op, body: Buffer) => Buffer;
  response?: (op: Op, body: Buffer, request: Buffer, status: number) => Buffer;
}

export interface ProxyOptions {
  upstream: string;
  /** Default true: enforce If-None-Match on PutObject as S3 does. */
  conditionalWrites?: boolean;
  /** Added latency in ms per operation name (e.g. { sqs: 10, PutObject: 25 }); service-wide keys "sqs" / "s3". */
  latencyMs?: Partial<Record<string, number>>;
  random?: () => number;
  port?: number;
}

export interface RecordedSqsRequest {
  op: string;
  body: Record<string, unknown>;
}

export interface RecordedS3Request {
  op: string;
  key?: string;
  headers: http.IncomingHttpHeaders;
}

export interface AwsProxy {
  readonly url: string;
  readonly port: number;
  readonly counts: Map<string, number>;
  readonly sqsRequests: RecordedSqsRequest[];
  /** Headers of the S3 writes the proxy saw (PutObject), for asserting SSE, storage class and conditions. */
  readonly s3Writes: RecordedS3Request[];
  /** Number of 412s answered because the key existed. */
  preconditionFailures: number;
  setFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  setLatency(latency: Partial<Record<string, number>>): void;
  /** Replace (or with {} clear) the body rewriting hooks. */
  setTransforms(transforms: ProxyTransforms): void;
  close(): Promise<void>;
}

function signedRegion(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = typeof auth === "string" ? /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(auth) : null;
  return m?.[1];
}

export function classify(req: http.IncomingMessage): Op {
  const op = classifyUnsigned(req);
  const region = signedRegion(req);
  return region === undefined ? op : { ...op, region };
}

function classifyUnsigned(req: http.IncomingMessage): Op {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string" && target.startsWith("AmazonSQS.")) return { service: "sqs", name: target.slice("AmazonSQS.".length) };
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/" && req.method === "POST") return { service: "other", name: "Query" };
  const parts = url.pathname.split("/").filter(Boolean);
  const key = parts.length > 1 ? decodeURIComponent(parts.slice(1).join("/")) : undefined;
  const q = url.searchParams;
  let name = "Other";
  if (req.method === "PUT") {
    if (q.has("partNumber")) name = "UploadPart";
    else if (req.headers["x-amz-copy-source"]) name = "CopyObject";
    else if (parts.length === 1) name = "CreateBucket";
    else name = "PutObject";
  } else if (req.method === "GET") name = parts.length === 1 ? (q.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects") : "GetObject";
  else if (req.method === "HEAD") name = parts.length === 1 ? "HeadBucket" : "HeadObject";
  else if (req.method === "DELETE") name = "DeleteObject";
  else if (req.method === "POST") name = "PostObject";
  return key === undefined ? { service: "s3", name } : { service: "s3", name, key };
}

function errorBody(op: Op, status: number, code: string, message: string): { headers: Record<string, string>; body: string } {
  if (op.service === "sqs") {
    return {
      headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": `${code};Sender` },
      body: JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }),
    };
  }
  return {
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`,
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export async function startAwsProxy(opts: ProxyOptions): Promise<AwsProxy> {
  const upstream = new URL(opts.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const random = opts.random ?? Math.random;
  const conditional = opts.conditionalWrites ?? true;
  let latency: Partial<Record<string, number>> = { ...(opts.latencyMs ?? {}) };
  let faults: FaultRule[] = [];
  let transforms: ProxyTransforms = {};
  const keyLocks = new Map<string, Promise<void>>();
  const sockets = new Set<import("node:net").Socket>();

  const send = (method: string, path: string, headers: http.OutgoingHttpHeaders, body?: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const r = http.request(
        { host: upstream.hostname, port: upstream.port, method, path, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      r.on("error", reject);
      r.end(body);
    });

  const withKeyLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    while (keyLocks.has(key)) await keyLocks.get(key);
    let release!: () => void;
    keyLocks.set(key, new Promise<void>((r) => (release = r)));
    try {
      return await fn();
    } finally {
      keyLocks.delete(key);
      release();
    }
  };

  const state = {
    counts: new Map<string, number>(),
    sqsRequests: [] as RecordedSqsRequest[],
    s3Writes: [] as RecordedS3Request[],
    preconditionFailures: 0,
  };

  const pickFault = (op: Op): FaultRule | undefined => {
    for (const rule of faults) {
      const now = Date.now();
      if ((rule.fromMs !== undefined && now < rule.fromMs) || (rule.untilMs !== undefined && now >= rule.untilMs)) continue;
      if (!rule.match(op)) continue;
      if (rule.times !== undefined && (rule.hits ?? 0) >= rule.times) continue;
      if (rule.probability !== undefined && random() >= rule.probability) continue;
      rule.hits = (rule.hits ?? 0) + 1;
      return rule;
    }
    return undefined;
  };

  const server = http.createServer(async (req, res) => {
    const arrival = Date.now();
    const op = classify(req);
    state.counts.set(op.name, (state.counts.get(op.name) ?? 0) + 1);
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return;
    }
    if (op.name === "PutObject" && state.s3Writes.length < 10_000) {
      state.s3Writes.push({ op: op.name, ...(op.key !== undefined ? { key: op.key } : {}), headers: req.headers });
    }
    if (op.service === "sqs" && state.sqsRequests.length < 10_000) {
      try {
        state.sqsRequests.push({ op: op.name, body: JSON.parse(body.toString("utf8")) as Record<string, unknown> });
      } catch {
        /* not JSON: not recorded */
      }
    }
    const target = latency[op.name] ?? latency[op.service] ?? 0;
    const respond = async (status: number, headers: http.OutgoingHttpHeaders, payload: Buffer | string) => {
      const wait = arrival + target - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (res.destroyed) return;
      res.writeHead(status, headers);
      res.end(payload);
    };

    const fault = pickFault(op);
    const loseResponse = fault?.action.kind === "reset-after-forward";
    const lateBy = fault?.action.kind === "late" ? fault.action.delayMs : 0;
    if (fault && !loseResponse && lateBy === 0) {
      const a = fault.action;
      if (a.kind === "reset") {
        req.socket.destroy();
        return;
      }
      if (a.kind === "hang") return; // the client's own timeout ends it
      if (a.kind !== "status") return;
      const e = errorBody(op, a.status, a.code, a.message ?? "injected by test proxy");
      const payload = req.method === "HEAD" ? "" : (a.body ?? e.body);
      await respond(a.status, { ...e.headers, ...(a.headers ?? {}) }, payload);
      return;
    }

    const headers = { ...req.headers };
    delete headers["connection"];
    if (transforms.request) {
      body = transforms.request(op, body);
      if (headers["content-length"] !== undefined) headers["content-length"] = String(body.length);
    }
    const forward = () => send(req.method ?? "GET", req.url ?? "/", headers, body);
    try {
      let up: Upstream;
      const ifNoneMatch = req.headers["if-none-match"];
      if (conditional && op.name === "PutObject" && ifNoneMatch === "*" && op.key !== undefined) {
        const path = (req.url ?? "/").split("?")[0] as string;
        up = await withKeyLock(path, async () => {
          const head = await send("HEAD", path, { host: req.headers.host ?? upstream.host });
          if (head.status === 200) {
            state.preconditionFailures++;
            const e = errorBody(op, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
            return { status: 412, headers: e.headers, body: Buffer.from(e.body) };
          }
          return forward();
        });
      } else {
        up = await forward();
      }
      if (loseResponse) {
        // The upstream has acted on the request; the client never hears about it.
        req.socket.destroy();
        return;
      }
      if (transforms.response) up = { ...up, body: transforms.response(op, up.body, body, up.status) };
      const outHeaders: http.OutgoingHttpHeaders = { ...up.headers };
      delete outHeaders["transfer-encoding"];
      delete outHeaders["connection"];
      // A HEAD answer has no body but states the object's size: keep the upstream's.
      if (req.method !== "HEAD" || outHeaders["content-length"] === undefined) outHeaders["content-length"] = String(up.body.length);
      if (lateBy > 0) await new Promise((r) => setTimeout(r, lateBy));
      await respond(up.status, outHeaders, up.body);
    } catch {
      if (!res.destroyed) req.socket.destroy();
    }
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get counts() {
      return state.counts;
    },
    get sqsRequests() {
      return state.sqsRequests;
    },
    get s3Writes() {
      return state.s3Writes;
    },
    get preconditionFailures() {
      return state.preconditionFailures;
    },
    set preconditionFailures(v: number) {
      state.preconditionFailures = v;
    },
    setFaults(rules: FaultRule[]) {
      faults = rules.map((r) => ({ ...r, hits: 0 }));
    },
    clearFaults() {
      faults = [];
    },
    setLatency(l) {
      latency = { ...l };
    },
    setTransforms(t) {
      transforms = { ...t };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}
