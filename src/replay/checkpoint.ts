import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "./errors.js";

/**
 * `--checkpoint FILE`: a journal of a replay's progress, one JSON record per line.
 *
 *   {"t":"job", ...}                                   what is being replayed (window, target, bucket, prefix, filters)
 *   {"t":"sent","m":[["<key>",<line>,"<messageId>"],…]} written right after SQS accepted a SendMessageBatch
 *   {"t":"done","k":"<key>"}                             every message of that object was sent or skipped
 *
 * Each record is one write(2) of a whole line, made as soon as SQS answers, so a Ctrl-C, a crash or kill -9 loses
 * at most the batches still on the wire (a resume sends those again; see docs/replay.md). A torn last line is
 * ignored. On resume the journal is compacted into a fresh file, written beside it and renamed over it (atomic).
 */

export interface CheckpointJob {
  version: 1;
  sinceMs: number;
  untilMs: number;
  to: string;
  bucket: string;
  prefix: string;
  filters: string[];
}

export interface CheckpointState {
  job: CheckpointJob;
  sent: Set<string>;
  done: Set<string>;
}

type SentRecord = { t: "sent"; m: Array<[string, number, string]> };
type DoneRecord = { t: "done"; k: string };
type JobRecord = { t: "job" } & CheckpointJob;

export function readCheckpoint(file: string): CheckpointState | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  let job: CheckpointJob | undefined;
  const sent = new Set<string>();
  const done = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line) continue;
    let rec: JobRecord | SentRecord | DoneRecord;
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      // Only the last line can be torn by a crash; anything earlier means this is not our file.
      if (i >= lines.length - 2) break;
      throw new UsageError(`--checkpoint ${file}: line ${i + 1} is not a checkpoint record; not a checkpoint file of this tool?`);
    }
    if (rec.t === "job") {
      const { t: _t, ...rest } = rec;
      job = rest;
    } else if (rec.t === "sent") for (const [, , id] of rec.m) sent.add(id);
    else if (rec.t === "done") done.add(rec.k);
  }
  if (!job) {
    if (text.trim() === "") return undefined;
    throw new UsageError(`--checkpoint ${file}: has no job record; not a checkpoint file of this tool?`);
  }
  return { job, sent, done };
}

/** Why a checkpoint cannot be resumed with these options, or undefined when it can. */
export function checkpointMismatch(saved: CheckpointJob, now: Omit<CheckpointJob, "sinceMs" | "untilMs">): string | undefined {
  const diffs: string[] = [];
  if (saved.to !== now.to) diffs.push(`--to ${saved.to}`);
  if (saved.bucket !== now.bucket) diffs.push(`--bucket ${saved.bucket}`);
  if (saved.prefix !== now.prefix) diffs.push(`--prefix ${JSON.stringify(saved.prefix)}`);
  if ([...saved.filters].sort().join("\n") !== [...now.filters].sort().join("\n")) diffs.push(`--filter ${saved.filters.join(" ") || "(none)"}`);
  return diffs.length ? `it was written for a different replay (${diffs.join(", ")})` : undefined;
}

export class CheckpointWriter {
  private fd: number;
  private lastSync = Date.now();

  /** Writes the job and what an earlier run recorded into a fresh file, then renames it over `file`. */
  constructor(
    readonly file: string,
    job: CheckpointJob,
    previous?: CheckpointState,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
    const fd = openSync(tmp, "w");
    const chunks: string[] = [JSON.stringify({ t: "job", ...job })];
    if (previous && previous.sent.size > 0) {
      // Compacted: ids only; the key and line were informative and are in the previous run's log.
      const ids = [...previous.sent];
      for (let i = 0; i < ids.length; i += 1000) chunks.push(JSON.stringify({ t: "sent", m: ids.slice(i, i + 1000).map((id) => ["", 0, id]) }));
    }
    for (const k of previous?.done ?? []) chunks.push(JSON.stringify({ t: "done", k }));
    writeSync(fd, `${chunks.join("\n")}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    this.fd = openSync(file, "a");
  }

  sent(items: ReadonlyArray<{ key: string; line: number; messageId: string }>): void {
    this.append({ t: "sent", m: items.map((i) => [i.key, i.line, i.messageId]) });
  }

  done(key: string): void {
    this.append({ t: "done", k: key });
  }

  private append(rec: SentRecord | DoneRecord): void {
    writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    // The page cache survives a process crash; fsync about once a second covers a machine crash too.
    if (Date.now() - this.lastSync > 1000) {
      fsyncSync(this.fd);
      this.lastSync = Date.now();
    }
  }

  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }
}
