/** Small statistics for benchmark samples. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

export const mb = (bytes: number) => bytes / 1e6;
export const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const fmtMB = (bytes: number) => `${mb(bytes).toFixed(1)} MB`;
export const fmtRatio = (r: number) => `${r.toFixed(2)}×`;
