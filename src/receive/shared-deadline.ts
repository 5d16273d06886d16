import { setMaxListeners } from "node:events";

/**
 * One abort signal per slice of time for calls that each need "at most `budgetMs` from now": the calls started within
 * the same 1% of the budget (at most 1 s) share a signal, so each gets between 99% and 100% of its budget. A timer and
 * a composite signal per call cost ~20 µs of CPU each and kept budget x rate of them alive (120,000 for 120 s writes
 * at 1,000 msg/s).
 */
export class SharedDeadline {
  private shared: { signal: AbortSignal; until: number } | undefined;

  constructor(
    private readonly budgetMs: number,
    /** Aborts every signal handed out (shutdown). */
    private readonly parent?: AbortSignal,
  ) {}

  signal(): AbortSignal {
    const t = performance.now();
    if (this.shared && t < this.shared.until) return this.shared.signal;
    const timeout = AbortSignal.timeout(this.budgetMs);
    const signal = this.parent ? AbortSignal.any([this.parent, timeout]) : timeout;
    // Every call in flight adds an abort listener (the SDK removes it when the request ends).
    setMaxListeners(0, signal);
    this.shared = { signal, until: t + Math.min(1000, this.budgetMs / 100) };
    return signal;
  }
}
