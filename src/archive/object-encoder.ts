import type { ArchiveCompression } from "../config.js";
import { NdjsonObjectBuilder } from "./ndjson-batch.js";

/**
 * How a batched archive object's bytes are built, apart from when it opens and closes (src/sinks/batch-sink.ts). The
 * sink appends one serialised envelope per message, charges what `onCharge` reports to the memory budget, and writes
 * finish()'s bytes under a key ending in `extension` with `contentType`.
 */
export interface ObjectEncoder {
  append(line: string): void;
  /** Ends the object and returns its bytes; later appends throw. */
  finish(): Promise<Buffer>;
  /** Bytes of the object so far, an upper bound (BATCH_MAX_BYTES is compared with it). */
  readonly estimatedBytes: number;
  /** The key's suffix, e.g. `.ndjson.gz`. */
  readonly extension: string;
  readonly contentType: string;
  /**
   * The codec the bytes are compressed with (`gzip`, `zstd`), or undefined for none. BatchSink does not send it as a
   * Content-Encoding header: archived objects have never carried one, and readers go by the extension.
   */
  readonly contentEncoding: string | undefined;
  /** Object metadata that names the layout, for readers that do not trust the extension. */
  readonly formatMetadata: Readonly<Record<string, string>>;
}

/** Called with each change of the bytes an encoder holds (positive: newly held; negative: freed). */
export type ChargeBytes = (bytes: number) => void;

/** The one place a batched layout is chosen: NDJSON, one line per envelope, compressed as configured. */
export function createObjectEncoder(compression: ArchiveCompression, onCharge: ChargeBytes): ObjectEncoder {
  return new NdjsonObjectBuilder(compression, onCharge);
}
