/** A latency histogram with 0.05 ms buckets up to 30 s: cheap to fill, mergeable across processes. */
export class Histogram {
  static readonly STEP_MS = 0.05;
  static readonly MAX_MS = 30_000;
  readonly counts: Uint32Array;
  count = 0;
  max = 0;
  /** Samples below zero (clock skew between processes), counted as 0. */
  negative = 0;

  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(Math.ceil(Histogram.MAX_MS / Histogram.STEP_MS) + 1);
    if (counts) for (const c of counts) this.count += c;
  }

  add(ms: number): void {
    if (ms < 0) {
      this.negative++;
      ms = 0;
    }
    if (ms > this.max) this.max = ms;
    const i = Math.min(this.counts.length - 1, Math.floor(ms / Histogram.STEP_MS));
    this.counts[i]! += 1;
    this.count++;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
    this.negative += other.negative;
  }

  /** The p-th percentile (0-100), at the upper edge of its bucket. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return (i + 1) * Histogram.STEP_MS;
    }
    return this.max;
  }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
