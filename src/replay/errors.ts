import { ArchiverError } from "../errors.js";

/** A command line that cannot be run as given (exit 2): a missing or malformed flag, an impossible window. */
export class UsageError extends ArchiverError {
  constructor(message: string) {
    super("USAGE", message);
  }
}
