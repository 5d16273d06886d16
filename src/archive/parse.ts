import { ArchiverError } from "../errors.js";
import type { ContentCode } from "../reasons.js";
import { md5Hex, SCHEMA_VERSION, type Envelope } from "./envelope.js";
import { isValidSentTimestamp } from "./format.js";

/**
 * Reading side of the envelope contract (pure): one parser and one set of checks for every reader of the archive
 * (replay, compaction, verification), whatever layout or codec the envelope came from.
 */

/** Why an archive line or object is not a usable envelope; `reason` is its code. */
export class BadContentError extends ArchiverError {
  constructor(
    readonly reason: ContentCode,
    message: string,
    /** The line's messageId when it has one (a line of another schemaVersion still names its message). */
    readonly messageId?: string,
  ) {
    super(reason, message);
  }
}

/** Parses and checks one envelope: JSON, schemaVersion 1, and the fields a replay needs. */
export function parseEnvelope(text: string): Envelope {
  const { env, md5Mismatch } = checkEnvelope(text);
  if (md5Mismatch) throw md5Mismatch;
  return env;
}

/**
 * parseEnvelope for a reader that reports a body not matching md5OfBody but still wants the envelope (verification
 * counts it and compares it with other copies): every other problem throws as in parseEnvelope.
 */
export function checkEnvelope(text: string): { env: Envelope; md5Mismatch?: BadContentError } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new BadContentError("NOT_JSON", `not JSON (${(err as Error).message.slice(0, 120)})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new BadContentError("NOT_ENVELOPE", "not a JSON object");
  const e = v as Partial<Envelope>;
  const id = typeof e.messageId === "string" && e.messageId !== "" ? e.messageId : undefined;
  if (e.schemaVersion !== SCHEMA_VERSION) {
    throw new BadContentError("SCHEMA_VERSION", `schemaVersion ${JSON.stringify(e.schemaVersion ?? null)}, this version reads ${SCHEMA_VERSION}`, id);
  }
  if (typeof e.messageId !== "string" || e.messageId === "") throw new BadContentError("NOT_ENVELOPE", "no messageId");
  if (typeof e.body !== "string") throw new BadContentError("NOT_ENVELOPE", `message ${e.messageId}: no body string`, id);
  if (typeof e.attributes !== "object" || e.attributes === null) throw new BadContentError("NOT_ENVELOPE", `message ${e.messageId}: no attributes`, id);
  if (e.messageAttributes !== undefined && (typeof e.messageAttributes !== "object" || e.messageAttributes === null)) {
    throw new BadContentError("NOT_ENVELOPE", `message ${e.messageId}: messageAttributes is not an object`, id);
  }
  if (sentTimestampOf(e as Envelope) === undefined) throw new BadContentError("NOT_ENVELOPE", `message ${e.messageId}: no valid SentTimestamp`, id);
  e.messageAttributes ??= {};
  // The body must still hash to what SQS computed when it was received: a body changed since is not replayed.
  if (typeof e.md5OfBody === "string" && e.md5OfBody !== "" && md5Hex(e.body).toLowerCase() !== e.md5OfBody.toLowerCase()) {
    return { env: e as Envelope, md5Mismatch: new BadContentError("MD5_MISMATCH", `message ${e.messageId}: body does not hash to md5OfBody ${e.md5OfBody}`, id) };
  }
  return { env: e as Envelope };
}

/** SentTimestamp in ms (the window's clock), from the system attribute, else from `sentAt`. */
export function sentTimestampOf(env: Envelope): number | undefined {
  const raw = env.attributes?.SentTimestamp;
  const ms = typeof raw === "string" && /^\d{1,16}$/.test(raw) ? Number(raw) : Date.parse(env.sentAt ?? "");
  return isValidSentTimestamp(ms) ? ms : undefined;
}
