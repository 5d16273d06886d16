import { SCHEMA_VERSION, type Envelope, type EnvelopeMessageAttribute } from "./envelope.js";
import { hourPath } from "./format.js";
import { sentTimestampOf } from "./parse.js";

/**
 * The compacted layout (pure): Parquet objects written by `sqs-archiver compact`, one per generation of an hour.
 *
 * - `${toPrefix}YYYY/MM/DD/HH/g000001.parquet`: generation 1 of that SentTimestamp hour, rows ordered by sent_at,
 *   then sequence_number. Its key-value metadata `sqs_archiver_commit` holds the commit record.
 * - `${toPrefix}_manifests/YYYY/MM/DD/HH/g000001.json`: the same commit record, for readers that do not open Parquet.
 *   Outside the hour folders, so a table over them (Athena, DuckDB, replay) only ever sees Parquet.
 *
 * A generation number is the slot a compactor claims with `If-None-Match: *`: generation N+1 is only ever computed
 * from generations 1..N, so two compactors that read the same state race for the same key and one loses (412).
 *
 * Rows travel to and from the engine as JSON objects of the `CompactRow` shape (binary as base64, times as epoch
 * ms); SQL below turns that shape into the Parquet column types and back. `toRow`/`fromRow` are exact inverses.
 */

export const COMPACTED_SCHEMA_VERSION = 1;
export const COMMIT_METADATA_KEY = "sqs_archiver_commit";

const GEN_RE = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/g(\d{6})\.parquet$/;
export const MANIFESTS = "_manifests/";

export function generationKey(toPrefix: string, hourMs: number, generation: number): string {
  return `${toPrefix}${hourPath(hourMs)}/g${String(generation).padStart(6, "0")}.parquet`;
}

export function manifestKey(toPrefix: string, hourMs: number, generation: number): string {
  return `${toPrefix}${MANIFESTS}${hourPath(hourMs)}/g${String(generation).padStart(6, "0")}.json`;
}

/** The hour and generation of a compacted Parquet key under prefix, or null. */
export function parseCompactedKey(prefix: string, key: string): { hour: string; hourMs: number; generation: number } | null {
  if (!key.startsWith(prefix)) return null;
  const m = GEN_RE.exec(key.slice(prefix.length));
  if (!m) return null;
  const hour = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:00:00Z`;
  return { hour, hourMs: Date.parse(hour), generation: Number(m[5]) };
}

export interface CommitSource {
  key: string;
  etag: string;
  size: number;
  /** Valid envelopes read from it. */
  rows: number;
}

/** What one generation consumed and wrote: in the Parquet footer and in the manifest beside it. */
export interface CommitRecord {
  tool: "sqs-archiver";
  toolVersion: string;
  schemaVersion: typeof COMPACTED_SCHEMA_VERSION;
  envelopeSchemaVersion: typeof SCHEMA_VERSION;
  hour: string;
  generation: number;
  key: string;
  /** Keys of the generations this one was computed after (1..N-1). */
  previous: string[];
  sourcePrefix: string;
  sources: CommitSource[];
  rowsIn: number;
  rowsOut: number;
  duplicatesDropped: number;
  /** Rows read whose messageId an earlier generation already holds. */
  alreadyCompacted: number;
  createdAt: string;
}

export function parseCommitRecord(text: string): CommitRecord {
  const v = JSON.parse(text) as CommitRecord;
  if (v?.tool !== "sqs-archiver" || typeof v.generation !== "number" || !Array.isArray(v.sources)) throw new Error("not an sqs-archiver commit record");
  if (v.schemaVersion !== COMPACTED_SCHEMA_VERSION) throw new Error(`compacted schemaVersion ${String(v.schemaVersion)}, this version reads ${COMPACTED_SCHEMA_VERSION}`);
  return v;
}

export interface RowAttribute {
  data_type: string;
  string_value: string | null;
  /** base64 in the row JSON; BLOB in Parquet. */
  binary_value: string | null;
  string_list_values: string[] | null;
  binary_list_values: string[] | null;
}

export interface CompactRow {
  message_id: string;
  body: string;
  md5_of_body: string | null;
  md5_of_message_attributes: string | null;
  /** epoch ms (SentTimestamp) */
  sent_at: number;
  queue_url: string | null;
  /** epoch ms, null when archivedAt is not an exact ISO time (then it is in `extra`) */
  archived_at: number | null;
  attributes: Record<string, string>;
  message_attributes: Record<string, RowAttribute>;
  message_group_id: string | null;
  message_deduplication_id: string | null;
  sequence_number: string | null;
  source_key: string;
  /** JSON of envelope fields the typed columns cannot reproduce exactly (fields named by hand); usually null. */
  extra: string | null;
}

/** Column names and Parquet (DuckDB) types, in file order: the schema docs/compaction.md documents. */
export const COMPACTED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["message_id", "VARCHAR"],
  ["body", "VARCHAR"],
  ["md5_of_body", "VARCHAR"],
  ["md5_of_message_attributes", "VARCHAR"],
  ["sent_at", "TIMESTAMP_MS"],
  ["queue_url", "VARCHAR"],
  ["archived_at", "TIMESTAMP_MS"],
  ["attributes", "MAP(VARCHAR, VARCHAR)"],
  ["message_attributes", "MAP(VARCHAR, STRUCT(data_type VARCHAR, string_value VARCHAR, binary_value BLOB, string_list_values VARCHAR[], binary_list_values BLOB[]))"],
  ["message_group_id", "VARCHAR"],
  ["message_deduplication_id", "VARCHAR"],
  ["sequence_number", "VARCHAR"],
  ["source_key", "VARCHAR"],
  ["extra", "VARCHAR"],
];

const ROW_ATTR_JSON = "STRUCT(data_type VARCHAR, string_value VARCHAR, binary_value VARCHAR, string_list_values VARCHAR[], binary_list_values VARCHAR[])";

/** `columns=` of DuckDB's read_json for a file of CompactRow lines. */
export function rowJsonColumnsSql(): string {
  const t: Record<string, string> = { sent_at: "BIGINT", archived_at: "BIGINT", message_attributes: `MAP(VARCHAR, ${ROW_ATTR_JSON})` };
  return `{${COMPACTED_COLUMNS.map(([n, type]) => `${n}: '${t[n] ?? type}'`).join(", ")}}`;
}

const mapAttrs = (from: string, blob: (x: string) => string) =>
  `map_from_entries(list_transform(map_entries(${from}), lambda e: {key: e.key, value: {data_type: e.value.data_type, string_value: e.value.string_value, binary_value: ${blob("e.value.binary_value")}, string_list_values: e.value.string_list_values, binary_list_values: list_transform(e.value.binary_list_values, lambda b: ${blob("b")})}}))`;

/** SELECT list turning CompactRow JSON columns (read_json) into the Parquet column types. */
export function rowToColumnsSql(): string {
  return COMPACTED_COLUMNS.map(([n]) => {
    if (n === "sent_at" || n === "archived_at") return `make_timestamp_ms(${n})::TIMESTAMP_MS AS ${n}`;
    if (n === "message_attributes") return `${mapAttrs(n, (x) => `from_base64(${x})`)} AS ${n}`;
    return n;
  }).join(", ");
}

/** One VARCHAR column `row_json` per Parquet row, in the CompactRow shape (the inverse of rowToColumnsSql). */
export function columnsToRowJsonSql(): string {
  const fields = COMPACTED_COLUMNS.map(([n]) => {
    if (n === "sent_at" || n === "archived_at") return `${n}: epoch_ms(${n})`;
    if (n === "message_attributes") return `${n}: ${mapAttrs(n, (x) => `to_base64(${x})`)}`;
    return `${n}: ${n}`;
  });
  return `to_json({${fields.join(", ")}})::VARCHAR AS row_json`;
}

const ABSENT = "$absent";
const KNOWN_FIELDS = new Set(["schemaVersion", "messageId", "queueUrl", "body", "md5OfBody", "md5OfMessageAttributes", "attributes", "messageAttributes", "sentAt", "archivedAt"]);
const ATTR_FIELDS = new Set(["DataType", "StringValue", "BinaryValue", "StringListValues", "BinaryListValues"]);

const isStr = (v: unknown): v is string => typeof v === "string";
const canonicalBase64 = (b: unknown): b is string => isStr(b) && Buffer.from(b, "base64").toString("base64") === b;
const canonicalIso = (v: unknown, ms: number | null): boolean => isStr(v) && ms !== null && new Date(ms).toISOString() === v;

/** An attribute the typed struct reproduces exactly (as the archiver writes them), else null. */
function rowAttribute(a: EnvelopeMessageAttribute): RowAttribute | null {
  if (typeof a !== "object" || a === null || !isStr(a.DataType)) return null;
  for (const k of Object.keys(a)) if (!ATTR_FIELDS.has(k)) return null;
  if (a.StringValue !== undefined && !isStr(a.StringValue)) return null;
  if (a.BinaryValue !== undefined && !canonicalBase64(a.BinaryValue)) return null;
  const sl = a.StringListValues;
  if (sl !== undefined && (!Array.isArray(sl) || sl.length === 0 || !sl.every(isStr))) return null;
  const bl = a.BinaryListValues;
  if (bl !== undefined && (!Array.isArray(bl) || bl.length === 0 || !bl.every(canonicalBase64))) return null;
  // The struct's field order is fixed: an attribute whose keys come in another order is kept verbatim instead.
  const order = Object.keys(a).join(",");
  const expected = ["DataType", "StringValue", "BinaryValue", "StringListValues", "BinaryListValues"].filter((k) => k in a).join(",");
  if (order !== expected) return null;
  return {
    data_type: a.DataType,
    string_value: a.StringValue ?? null,
    binary_value: a.BinaryValue ?? null,
    string_list_values: sl ? [...sl] : null,
    binary_list_values: bl ? [...bl] : null,
  };
}

/** Envelope → row. `extra` keeps, verbatim, whatever the typed columns would not give back exactly. */
export function toRow(env: Envelope, sourceKey: string): CompactRow {
  const e = env as unknown as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  for (const k of Object.keys(e)) if (!KNOWN_FIELDS.has(k)) extra[k] = e[k];
  const sent = sentTimestampOf(env) as number;
  // A field the envelope did not have at all is listed in ABSENT (an explicit null is a value).
  const absent: string[] = [];
  const keep = (k: string) => (e[k] === undefined ? absent.push(k) : (extra[k] = e[k]));
  if (!canonicalIso(env.sentAt, sent)) keep("sentAt");
  const archivedMs = isStr(env.archivedAt) ? Date.parse(env.archivedAt) : Number.NaN;
  const archived = Number.isFinite(archivedMs) ? archivedMs : null;
  if (!canonicalIso(env.archivedAt, archived)) keep("archivedAt");
  const optStr = (name: string): string | null => {
    const v = e[name];
    if (v === undefined) return null;
    if (isStr(v)) return v;
    extra[name] = v;
    return null;
  };
  const attributes: Record<string, string> = {};
  let attrsExact = true;
  for (const [k, v] of Object.entries(env.attributes)) {
    if (isStr(v)) attributes[k] = v;
    else attrsExact = false;
  }
  if (!attrsExact || Array.isArray(env.attributes)) extra.attributes = env.attributes;
  const message_attributes: Record<string, RowAttribute> = {};
  let maExact = !Array.isArray(env.messageAttributes);
  for (const [k, a] of Object.entries(env.messageAttributes)) {
    const r = rowAttribute(a);
    if (r) message_attributes[k] = r;
    else maExact = false;
  }
  if (!maExact) extra.messageAttributes = env.messageAttributes;
  if (absent.length) extra[ABSENT] = absent;
  const row: CompactRow = {
    message_id: env.messageId,
    body: env.body,
    md5_of_body: optStr("md5OfBody"),
    md5_of_message_attributes: optStr("md5OfMessageAttributes"),
    sent_at: sent,
    queue_url: optStr("queueUrl"),
    archived_at: archived,
    attributes,
    message_attributes,
    message_group_id: attributes.MessageGroupId ?? null,
    message_deduplication_id: attributes.MessageDeduplicationId ?? null,
    sequence_number: attributes.SequenceNumber ?? null,
    source_key: sourceKey,
    extra: null,
  };
  if (Object.keys(extra).length) row.extra = JSON.stringify(extra);
  return row;
}

/** Row → envelope, in the writer's field order; `extra` restores what was kept verbatim. */
export function fromRow(row: CompactRow): Envelope {
  const extra = row.extra ? (JSON.parse(row.extra) as Record<string, unknown>) : {};
  const env: Record<string, unknown> = { schemaVersion: SCHEMA_VERSION, messageId: row.message_id };
  if (row.queue_url !== null) env.queueUrl = row.queue_url;
  env.body = row.body;
  if (row.md5_of_body !== null) env.md5OfBody = row.md5_of_body;
  env.attributes = { ...row.attributes };
  const ma: Record<string, EnvelopeMessageAttribute> = {};
  for (const [name, a] of Object.entries(row.message_attributes ?? {})) {
    const out: EnvelopeMessageAttribute = { DataType: a.data_type };
    if (a.string_value !== null) out.StringValue = a.string_value;
    if (a.binary_value !== null) out.BinaryValue = a.binary_value;
    if (a.string_list_values !== null) out.StringListValues = [...a.string_list_values];
    if (a.binary_list_values !== null) out.BinaryListValues = [...a.binary_list_values];
    ma[name] = out;
  }
  env.messageAttributes = ma;
  env.sentAt = new Date(row.sent_at).toISOString();
  if (row.archived_at !== null) env.archivedAt = new Date(row.archived_at).toISOString();
  if (row.md5_of_message_attributes !== null) env.md5OfMessageAttributes = row.md5_of_message_attributes;
  for (const [k, v] of Object.entries(extra)) if (k !== ABSENT) env[k] = v;
  for (const k of (extra[ABSENT] as string[] | undefined) ?? []) delete env[k];
  return env as unknown as Envelope;
}
