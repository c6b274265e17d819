/** Token bucket per source IP for starting handshakes (only after a valid cookie, so IPs are real). */
export class PerIpRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly burst: number, private readonly perSecond: number, private readonly maxTracked = 10_000) {}

  tryTake(ip: string, nowMs: number): boolean {
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      if (this.buckets.size >= this.maxTracked) this.prune(nowMs);
      bucket = { tokens: this.burst, at: nowMs };
      this.buckets.set(ip, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * this.perSecond);
    bucket.at = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets buckets that have refilled completely; they carry no information. */
  prune(nowMs: number): void {
    const full = this.perSecond > 0 ? (this.burst / this.perSecond) * 1000 : Infinity;
    for (const [ip, b] of this.buckets) if (nowMs - b.at >= full) this.buckets.delete(ip);
  }
}
