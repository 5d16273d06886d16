import type { BadContentError } from "../archive/parse.js";

import { VERIFY_PROBLEM_CODES } from "../reasons.js";

/** Stable problem codes, from the one catalogue (src/reasons.ts). */
export const PROBLEM_CODES = VERIFY_PROBLEM_CODES;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface Problem {
  code: ProblemCode;
  /** The object the problem was found in. */
  key: string;
  /** The hour partition the key names (ISO, `2026-12-01T10:00:00Z`). */
  hour: string;
  messageId?: string;
  /** 1-based line in an NDJSON object (1 for a message-layout object); absent for a problem of the whole object. */
  line?: number;
  detail: string;
}

/** What the archive-reading layer's reasons mean as verification problems. */
export function codeOfBadContent(err: BadContentError): ProblemCode {
  switch (err.reason) {
    case "NOT_JSON":
    case "NOT_ENVELOPE":
      return "MALFORMED_LINE";
    case "SCHEMA_VERSION":
      return "UNKNOWN_SCHEMA";
    case "MD5_MISMATCH":
      return "MD5_MISMATCH";
    case "READ_FAILED":
      return "CORRUPT_OBJECT";
  }
}
