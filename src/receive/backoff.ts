/**
 * Exponential backoff with "equal jitter": half the step is fixed so a failing dependency is never hammered, half is
 * random so many loops (or pods) do not retry in lockstep.
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
