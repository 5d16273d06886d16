import type { CommitRecord } from "./compacted.js";
import type { Envelope } from "./envelope.js";
import type { ParsedArchiveKey } from "./format.js";
import type { BadContentError } from "./parse.js";

/** The shapes every archive reader shares (read.ts for the raw layouts, compacted-read.ts for Parquet). */

export interface ListedObject {
  key: string;
  size: number;
  /** As listed (quoted hex MD5 for single-part objects): what a commit record names a source by. */
  etag?: string;
  parsed: ParsedArchiveKey;
}

/** What GetObject said about the object read, for checks against what it held (message-count, ETag). */
export interface ObjectInfo {
  etag?: string;
  contentLength?: number;
  metadata: Record<string, string>;
  /** A compacted generation's commit record (its Parquet footer). */
  commit?: CommitRecord;
}

export interface ReadCounters {
  listRequests: number;
  getRequests: number;
  bytesRead: number;
}

export interface ReadCallbacks {
  /** Awaited before the next line is read (backpressure). */
  envelope(env: Envelope, line: number, lineBytes: number): void | Promise<void>;
  bad(line: number, err: BadContentError): void;
  /**
   * When given, a line whose body does not hash to its md5OfBody is reported here and then still delivered to
   * `envelope` (verification counts it); without it, such a line goes to `bad` like any other.
   */
  md5Mismatch?(line: number, err: BadContentError): void;
  /** Checked between lines: true stops reading this object. */
  stopped(): boolean;
}
