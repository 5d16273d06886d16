/** Exit statuses of every entry and command (sysexits for configuration). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 78; // sysexits EX_CONFIG
export const EXIT_INTERRUPTED = 130;
