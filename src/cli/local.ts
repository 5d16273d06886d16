import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config.js";
import { createAwsClients } from "../aws/aws-clients.js";
import type { Logger } from "../logger.js";
import { ArchiverService } from "../service.js";

export interface LocalOptions {
  /** Folder for the emulator's S3 files (git-ignored `.local-data/` by default). */
  dataDir: string;
  port: number;
  queueName: string;
  bucket: string;
  /** The user's own variables (S3_PREFIX, CONCURRENCY, ...) override local defaults. */
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  version: string;
  nodeVersion: string;
  print: (line: string) => void;
}

export interface LocalHandle {
  service: ArchiverService;
  queueUrl: string;
  endpoint: string;
  stop(): Promise<void>;
}

const OVERRIDABLE = [
  "S3_PREFIX",
  "MAX_MESSAGES_PER_POLL",
  "WAIT_TIME_SECONDS",
  "POLL_INTERVAL_SECONDS",
  "VISIBILITY_TIMEOUT_SECONDS",
  "CONCURRENCY",
  "HEALTH_PORT",
  "LOG_LEVEL",
  "SHUTDOWN_TIMEOUT_SECONDS",
  "ARCHIVE_FORMAT",
  "ARCHIVE_COMPRESSION",
  "BATCH_MAX_MESSAGES",
  "BATCH_MAX_BYTES",
  "BATCH_MAX_SECONDS",
  "MAX_INFLIGHT_BYTES",
];

const DECOMPRESS = { gzip: "zcat", zstd: "zstd -dc", none: "cat" } as const;

/**
 * `npm run local`: the embedded fauxqs emulator on 127.0.0.1 with S3 objects as plain files, a queue and a bucket,
 * and the real service against them, with static dummy credentials so no AWS account is needed.
 */
export async function runLocal(o: LocalOptions): Promise<LocalHandle> {
  // fauxqs needs node:sqlite (Node >= 22.5): loaded lazily so production never imports the emulator.
  const { startFauxqs } = await import("fauxqs");
  const s3Dir = join(o.dataDir, "s3");
  mkdirSync(s3Dir, { recursive: true });
  const fauxqs = await startFauxqs({ port: o.port, host: "localhost", logger: false, s3StorageDir: s3Dir });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const { queueUrl } = fauxqs.createQueue(o.queueName);
  const { queueUrl: replayQueueUrl } = fauxqs.createQueue(`${o.queueName}-replay`);
  fauxqs.createBucket(o.bucket);

  const env: Record<string, string> = {
    SQS_QUEUE_URL: queueUrl,
    S3_BUCKET_NAME: o.bucket,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    // Short long-polls so Ctrl-C returns within a second or two.
    WAIT_TIME_SECONDS: "1",
    CONCURRENCY: "2",
    SHUTDOWN_TIMEOUT_SECONDS: "10",
    // Batched mode locally: objects within seconds, not the production minute.
    BATCH_MAX_SECONDS: "5",
  };
  for (const k of OVERRIDABLE) {
    const v = o.env[k];
    if (v !== undefined && v !== "") env[k] = v;
  }
  const config = loadConfig(env);
  const clients = createAwsClients(config, async () => ({ accessKeyId: "test", secretAccessKey: "test" }));
  const service = new ArchiverService({ config, log: o.log, version: o.version, nodeVersion: o.nodeVersion, clients, host: "127.0.0.1" });
  await service.start();

  const objects = join(s3Dir, "buckets", o.bucket, "objects");
  // The emulator accepts any credentials; the CLI still needs some, and a region.
  const creds = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1";
  const replayEnv = `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=${endpoint} S3_FORCE_PATH_STYLE=true`;
  const cliPath = fileURLToPath(new URL("./cli.js", import.meta.url));
  const ndjson = config.archiveFormat === "ndjson";
  const aws = `${creds} aws --endpoint-url ${endpoint}`;
  const where = ndjson
    ? [
        `Batched mode (ARCHIVE_FORMAT=ndjson, ${config.archiveCompression}): messages land together in one object within BATCH_MAX_SECONDS (${config.batchMaxSeconds} s).`,
        "Read every archived message, one JSON envelope per line:",
        `  for k in $(${aws} s3 ls --recursive s3://${o.bucket}/${config.prefix} | awk '{print $4}'); do ${aws} s3 cp s3://${o.bucket}/$k - | ${DECOMPRESS[config.archiveCompression]}; done`,
      ]
    : [
        "Its archive appears within a second as a file:",
        `  ${join(objects, config.prefix)}YYYY/MM/DD/HH/<MessageId>.json.data`,
        "or through S3:",
        `  ${creds} aws s3 ls --endpoint-url ${endpoint} --recursive s3://${o.bucket}/${config.prefix}`,
      ];
  for (const line of [
    "",
    "sqs-archiver local mode is running.",
    `  SQS+S3 emulator : ${endpoint}`,
    `  queue           : ${queueUrl}`,
    `  bucket          : s3://${o.bucket}/${config.prefix}`,
    `  probes          : http://127.0.0.1:${service.port}/health  /ready  /metrics`,
    "",
    "Send a message:",
    `  ${creds} aws sqs send-message --endpoint-url ${endpoint} --queue-url ${queueUrl} --message-body '{"hello":"world"}'`,
    "",
    ...where,
    "",
    `Replay the last hour's archive into ${o.queueName}-replay (docs/replay.md), and print the Athena table (docs/query.md):`,
    `  ${replayEnv} node ${cliPath} replay --since 1h --to ${replayQueueUrl} --bucket ${o.bucket} --prefix ${config.prefix}`,
    `  node ${cliPath} athena-ddl --bucket ${o.bucket} --prefix ${config.prefix}`,
    "",
    "Ctrl-C stops everything.",
    "",
  ]) {
    o.print(line);
  }

  return {
    service,
    queueUrl,
    endpoint,
    async stop() {
      await service.stop();
      await fauxqs.stop();
    },
  };
}
