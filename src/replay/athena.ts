/**
 * `sqs-archiver athena-ddl`: a CREATE EXTERNAL TABLE over the archive prefix (both layouts: one JSON document per
 * line either way; Athena decompresses .gz and .zst by extension) with partition projection on the
 * `YYYY/MM/DD/HH` hour folders, as in AWS's Firehose example, and a view that keeps one row per messageId.
 */

export interface ArchiveColumn {
  /** Column name (Athena lower-cases names; the JSON SerDe matches keys case-insensitively). */
  name: string;
  /** The envelope's JSON key. */
  json: string;
  hive: string;
  comment: string;
}

const MESSAGE_ATTRIBUTE = "struct<datatype:string,stringvalue:string,binaryvalue:string>";

export const ARCHIVE_COLUMNS: readonly ArchiveColumn[] = [
  { name: "schemaversion", json: "schemaVersion", hive: "int", comment: "envelope schema version (1)" },
  { name: "messageid", json: "messageId", hive: "string", comment: "SQS MessageId" },
  { name: "queueurl", json: "queueUrl", hive: "string", comment: "queue the message was archived from" },
  { name: "body", json: "body", hive: "string", comment: "exact message body" },
  { name: "md5ofbody", json: "md5OfBody", hive: "string", comment: "MD5 of the body as SQS computed it" },
  { name: "md5ofmessageattributes", json: "md5OfMessageAttributes", hive: "string", comment: "MD5 of the message attributes (when any)" },
  { name: "attributes", json: "attributes", hive: "map<string,string>", comment: "system attributes: SentTimestamp, MessageGroupId, SequenceNumber, ..." },
  { name: "messageattributes", json: "messageAttributes", hive: `map<string,${MESSAGE_ATTRIBUTE}>`, comment: "message attributes; binaryvalue is base64" },
  { name: "sentat", json: "sentAt", hive: "string", comment: "SentTimestamp as ISO 8601 UTC" },
  { name: "archivedat", json: "archivedAt", hive: "string", comment: "when the archiver wrote it, ISO 8601 UTC" },
];

export interface AthenaOptions {
  bucket: string;
  prefix: string;
  format: "message" | "ndjson";
  table: string;
  /** First hour of the projection range, `yyyy/MM/dd/HH`. */
  rangeStart: string;
}

export const DEFAULT_RANGE_START = "2006/01/01/00";

export function dedupeViewName(table: string): string {
  return `${table}_dedup`;
}

/** The view keeping one row per messageId. Duplicates of a message share its hour, so the window is per hour too. */
export function dedupeViewSelect(table: string): string {
  const cols = [...ARCHIVE_COLUMNS.map((c) => c.name), "datehour"].join(", ");
  return [
    `SELECT ${cols}`,
    "FROM (",
    `  SELECT a.*, row_number() OVER (PARTITION BY datehour, messageid ORDER BY archivedat) AS copy_number`,
    `  FROM ${table} a`,
    ") AS t",
    "WHERE copy_number = 1",
  ].join("\n");
}

export function athenaDdl(o: AthenaOptions): string {
  const slash = o.prefix.lastIndexOf("/");
  const location = `s3://${o.bucket}/${o.prefix.slice(0, slash + 1)}`;
  const template = `s3://${o.bucket}/${o.prefix}\${datehour}/`;
  const width = Math.max(...ARCHIVE_COLUMNS.map((c) => c.name.length)) + 2;
  const cols = ARCHIVE_COLUMNS.map((c, i) => `  ${`\`${c.name}\``.padEnd(width + 1)} ${c.hive}${i < ARCHIVE_COLUMNS.length - 1 ? "," : ""}`);
  const layout =
    o.format === "ndjson"
      ? "-- Layout: batched NDJSON objects (<first SentTimestamp>-<hash>.ndjson.gz|.ndjson.zst|.ndjson), one envelope per line."
      : "-- Layout: one object per message (<MessageId>.json). Every object is one GET for Athena: query narrow datehour ranges.";
  return [
    `-- sqs-archiver archive: s3://${o.bucket}/${o.prefix}YYYY/MM/DD/HH/`,
    layout,
    "-- Both layouts can share the prefix: every line is the same envelope. A message can appear twice (a delete that",
    `-- failed after a durable write): query the view ${dedupeViewName(o.table)}, which keeps one row per messageid.`,
    "-- Always filter on datehour ('yyyy/MM/dd/HH', UTC hour of SentTimestamp) to read only those hours.",
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${o.table}\` (`,
    ...cols,
    ")",
    "PARTITIONED BY (`datehour` string)",
    "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
    "WITH SERDEPROPERTIES ('case.insensitive' = 'true')",
    "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'",
    "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
    `LOCATION '${location}'`,
    ...datehourProjection(o.rangeStart, template),
    "",
    `CREATE OR REPLACE VIEW \`${dedupeViewName(o.table)}\` AS`,
    `${dedupeViewSelect(o.table)};`,
    "",
  ].join("\n");
}

/** JSON keys of the message attribute struct (the SerDe matches them case-insensitively; DuckDB does not). */
export const STRUCT_FIELD_JSON: Readonly<Record<string, string>> = { datatype: "DataType", stringvalue: "StringValue", binaryvalue: "BinaryValue" };

/**
 * The same columns for DuckDB's `read_ndjson(..., columns = {...})`, keyed by the envelope's JSON names (DuckDB
 * matches JSON keys case-sensitively; its SQL identifiers are case-insensitive, so queries stay the same).
 */
export function duckDbColumns(columns: ReadonlyArray<{ name: string; hive: string }> = ARCHIVE_COLUMNS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of columns) {
    const json = ARCHIVE_COLUMNS.find((a) => a.name === c.name)?.json ?? c.name;
    out[json] = hiveTypeToDuckDb(c.hive, STRUCT_FIELD_JSON);
  }
  return out;
}

/** Hive column type -> DuckDB type, so tests (and docs/query.md) run the same schema on DuckDB's read_ndjson. */
export function hiveTypeToDuckDb(hive: string, fieldNames: Readonly<Record<string, string>> = {}): string {
  const t = hive.trim();
  const m = /^(map|struct|array)<(.*)>$/i.exec(t);
  if (!m) {
    const scalar: Record<string, string> = { string: "VARCHAR", int: "INTEGER", bigint: "BIGINT", boolean: "BOOLEAN", double: "DOUBLE", timestamp: "TIMESTAMP" };
    const s = scalar[t.toLowerCase()];
    if (!s) throw new Error(`no DuckDB type for ${hive}`);
    return s;
  }
  const kind = (m[1] as string).toLowerCase();
  const parts = splitTopLevel(m[2] as string);
  if (kind === "map") return `MAP(${hiveTypeToDuckDb(parts[0] as string, fieldNames)}, ${hiveTypeToDuckDb(parts[1] as string, fieldNames)})`;
  if (kind === "array") return `${hiveTypeToDuckDb(parts[0] as string, fieldNames)}[]`;
  return `STRUCT(${parts
    .map((p) => {
      const i = p.indexOf(":");
      const name = p.slice(0, i).trim();
      return `"${fieldNames[name] ?? name}" ${hiveTypeToDuckDb(p.slice(i + 1), fieldNames)}`;
    })
    .join(", ")})`;
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "<") depth++;
    if (ch === ">") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim());
}

/** Partition projection on the `datehour` folders (yyyy/MM/dd/HH), shared by the raw and the compacted tables. */
export function datehourProjection(rangeStart: string, template: string): string[] {
  return [
    "TBLPROPERTIES (",
    "  'projection.enabled' = 'true',",
    "  'projection.datehour.type' = 'date',",
    `  'projection.datehour.range' = '${rangeStart},NOW',`,
    "  'projection.datehour.format' = 'yyyy/MM/dd/HH',",
    "  'projection.datehour.interval' = '1',",
    "  'projection.datehour.interval.unit' = 'HOURS',",
    `  'storage.location.template' = '${template}'`,
    ");",
  ];
}
