import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, type Config, type LogLevel } from "../config.js";
import { logLevelProblem, problemLine } from "../validators.js";
import { createAwsClients } from "../aws/aws-clients.js";
import { ConfigError, PortInUseError } from "../errors.js";
import type { Logger } from "../logger.js";
import { UsageError } from "../replay/errors.js";
import { ArchiverService } from "../service.js";

export interface LocalSettings {
  /** Folder for the emulator's S3 files (git-ignored `.local-data/` by default). */
  dataDir: string;
  port: number;
  queueName: string;
  bucket: string;
  logLevel: LogLevel;
}

export interface LocalOptions extends LocalSettings {
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

/** What local mode sets unless the user's environment says otherwise (LOCAL_HELP and docs/local.md list them). */
export const LOCAL_DEFAULTS: Readonly<Record<string, string>> = {
  // Short long-polls so Ctrl-C returns within a second or two.
  WAIT_TIME_SECONDS: "1",
  CONCURRENCY: "2",
  SHUTDOWN_TIMEOUT_SECONDS: "10",
  // Batched mode locally: objects within seconds, not the production minute.
  BATCH_MAX_SECONDS: "5",
};

export const LOCAL_HELP = `Usage: sqs-archiver local        (npm run local builds first, then runs this)

Starts the fauxqs SQS+S3 emulator on 127.0.0.1 (S3 objects stored as plain files), a queue and a bucket, and the
archiver against them, with dummy credentials: no AWS account needed. It prints commands to send a message, read the
archive, replay it and print the Athena table; run them in another terminal while local mode runs. Ctrl-C stops it.

Environment:
  LOCAL_PORT=4566                   the emulator's port (SQS and S3 endpoint)
  HEALTH_PORT=8080                  probes and metrics (/health /ready /metrics)
  LOCAL_DATA_DIR=./.local-data      where the emulator keeps S3 objects (delete the folder to start empty)
  LOCAL_QUEUE_NAME=sqs-archiver-local   queue (and <name>-replay, the replay target)
  LOCAL_BUCKET_NAME=sqs-archiver-local  bucket
  LOG_LEVEL=debug                   one line per archived message at debug
  ${Object.entries(LOCAL_DEFAULTS).map(([k, v]) => `${k}=${v}`).join(", ")} (local defaults)
  ARCHIVE_FORMAT=ndjson [ARCHIVE_COMPRESSION=gzip|zstd|none]   batched mode
  and ${OVERRIDABLE.filter((k) => !["HEALTH_PORT", "LOG_LEVEL", "ARCHIVE_FORMAT", "ARCHIVE_COMPRESSION", ...Object.keys(LOCAL_DEFAULTS)].includes(k)).join(", ")}
  as for the service. Details: docs/local.md.`;

type Env = Readonly<Record<string, string | undefined>>;

/** Pure: local mode's own variables (LOCAL_*) and flags; throws UsageError (a flag) or ConfigError (a variable). */
export function parseLocalArgs(argv: string[], env: Env, cwd: string): LocalSettings | "help" {
  let help: boolean | undefined;
  try {
    help = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values.help;
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (local mode takes no options: its settings are environment variables)`);
  }
  if (help) return "help";
  const problems: string[] = [];
  const rawPort = env.LOCAL_PORT || "4566";
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65535) problems.push(problemLine("LOCAL_PORT", rawPort, "must be a whole number from 0 to 65535"));
  const logLevel = (env.LOG_LEVEL || "debug") as LogLevel;
  const badLevel = logLevelProblem(logLevel);
  if (badLevel) problems.push(problemLine("LOG_LEVEL", logLevel, badLevel));
  if (problems.length) throw new ConfigError(problems);
  return {
    dataDir: env.LOCAL_DATA_DIR || join(cwd, ".local-data"),
    port,
    queueName: env.LOCAL_QUEUE_NAME || "sqs-archiver-local",
    bucket: env.LOCAL_BUCKET_NAME || "sqs-archiver-local",
    logLevel,
  };
}

function localEnv(o: LocalOptions, queueUrl: string, endpoint: string): Record<string, string> {
  const env: Record<string, string> = {
    SQS_QUEUE_URL: queueUrl,
    S3_BUCKET_NAME: o.bucket,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    LOG_LEVEL: o.logLevel,
    ...LOCAL_DEFAULTS,
  };
  for (const k of OVERRIDABLE) {
    const v = o.env[k];
    if (v !== undefined && v !== "") env[k] = v;
  }
  return env;
}

async function startEmulator(o: LocalOptions, s3Dir: string) {
  // fauxqs needs node:sqlite (Node >= 22.5): loaded lazily so production never imports the emulator.
  const { startFauxqs } = await import("fauxqs");
  try {
    return await startFauxqs({ port: o.port, host: "localhost", logger: false, s3StorageDir: s3Dir });
  } catch (err) {
    throw PortInUseError.from(err, o.port, "LOCAL_PORT", "the SQS+S3 emulator");
  }
}

/**
 * `npm run local`: the embedded fauxqs emulator on 127.0.0.1 with S3 objects as plain files, a queue and a bucket,
 * and the real service against them, with static dummy credentials so no AWS account is needed.
 */
export async function runLocal(o: LocalOptions): Promise<LocalHandle> {
  const s3Dir = join(o.dataDir, "s3");
  mkdirSync(s3Dir, { recursive: true });
  const fauxqs = await startEmulator(o, s3Dir);
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const { queueUrl } = fauxqs.createQueue(o.queueName);
  const { queueUrl: replayQueueUrl } = fauxqs.createQueue(`${o.queueName}-replay`);
  fauxqs.createBucket(o.bucket);
  let service: ArchiverService;
  try {
    const config = loadConfig(localEnv(o, queueUrl, endpoint));
    const clients = createAwsClients(config, async () => ({ accessKeyId: "test", secretAccessKey: "test" }));
    service = new ArchiverService({ config, log: o.log, version: o.version, nodeVersion: o.nodeVersion, clients, host: "127.0.0.1" });
    await service.start().catch((err: unknown) => {
      throw PortInUseError.from(err, config.healthPort, "HEALTH_PORT");
    });
    for (const line of banner({ o, config, endpoint, queueUrl, replayQueueUrl, probePort: service.port, objects: join(s3Dir, "buckets", o.bucket, "objects") })) o.print(line);
  } catch (err) {
    await fauxqs.stop();
    throw err;
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

interface BannerFacts {
  o: LocalOptions;
  config: Config;
  endpoint: string;
  queueUrl: string;
  replayQueueUrl: string;
  probePort: number;
  /** The folder the emulator stores the bucket's objects in, each as `<key>.data`. */
  objects: string;
}

function whereLines({ o, config, endpoint, objects }: BannerFacts, aws: string): string[] {
  const onDisk = join(objects, config.prefix);
  if (config.archiveFormat !== "ndjson") {
    return [
      "Its archive appears within a second as a file:",
      `  ${onDisk}YYYY/MM/DD/HH/<MessageId>.json.data`,
      "or through S3:",
      `  ${aws} s3 ls --endpoint-url ${endpoint} --recursive s3://${o.bucket}/${config.prefix}`,
    ];
  }
  const ext = { gzip: ".ndjson.gz", zstd: ".ndjson.zst", none: ".ndjson" }[config.archiveCompression];
  const awsE = `${aws} --endpoint-url ${endpoint}`;
  return [
    `Batched mode (ARCHIVE_FORMAT=ndjson, ${config.archiveCompression}): messages land together in one object within BATCH_MAX_SECONDS (${config.batchMaxSeconds} s), as a file:`,
    `  ${onDisk}YYYY/MM/DD/HH/<first SentTimestamp>-<hash>${ext}.data`,
    "Read every archived message, one JSON envelope per line:",
    `  for k in $(${awsE} s3 ls --recursive s3://${o.bucket}/${config.prefix} | awk '{print $4}'); do ${awsE} s3 cp s3://${o.bucket}/$k - | ${DECOMPRESS[config.archiveCompression]}; done`,
  ];
}

/** What local mode prints once it runs: every command in it works, as printed, in another terminal meanwhile. */
function banner(f: BannerFacts): string[] {
  const { o, config, endpoint, queueUrl, replayQueueUrl, probePort } = f;
  // The emulator accepts any credentials; the AWS CLI and sqs-archiver still need some, and a region.
  const aws = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 aws";
  const cli = `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=${endpoint} S3_FORCE_PATH_STYLE=true npx sqs-archiver`;
  return [
    "",
    "sqs-archiver local mode is running.",
    `  SQS+S3 emulator : ${endpoint}`,
    `  queue           : ${queueUrl}`,
    `  bucket          : s3://${o.bucket}/${config.prefix}`,
    `  on disk         : ${f.objects}/ (each object a <key>.data file; delete ${o.dataDir} to start empty)`,
    `  probes          : http://127.0.0.1:${probePort}/health  /ready  /metrics`,
    "",
    "In another terminal, while this runs (the commands need local mode running; npx commands from the project folder):",
    "Send a message (the emulator refuses characters outside the BMP, such as emoji; real SQS accepts them):",
    `  ${aws} sqs send-message --endpoint-url ${endpoint} --queue-url ${queueUrl} --message-body '{"hello":"world"}'`,
    "",
    ...whereLines(f, aws),
    "",
    `Replay the last hour's archive into ${o.queueName}-replay (docs/replay.md), and print the Athena table (docs/query.md):`,
    `  ${cli} replay --since 1h --to ${replayQueueUrl} --bucket ${o.bucket} --prefix ${config.prefix}`,
    `  npx sqs-archiver athena-ddl --bucket ${o.bucket} --prefix ${config.prefix}${config.archiveFormat === "ndjson" ? " --format ndjson" : ""}`,
    "",
    "Ctrl-C stops everything.",
    "",
  ];
}
