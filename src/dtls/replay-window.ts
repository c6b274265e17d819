/**
 * Anti-replay sliding window (RFC 6347 §4.1.2.6), 64 records wide. `check` before the MAC
 * is verified, `mark` only after, so forged records cannot move the window.
 */
export const REPLAY_WINDOW_SIZE = 64;

export class ReplayWindow {
  /** Highest sequence number accepted so far; -1 before the first. */
  private highest = -1;
  /** Bit i set = (highest - i) was received. BigInt because sequence numbers are 48-bit. */
  private bits = 0n;

  /** True when `sequence` is new and not too old to judge. */
  check(sequence: number): boolean {
    if (sequence > this.highest) return true;
    const offset = this.highest - sequence;
    if (offset >= REPLAY_WINDOW_SIZE) return false;
    return ((this.bits >> BigInt(offset)) & 1n) === 0n;
  }

  /** True when `sequence` is above everything accepted so far (RFC 9146 §6 address updates). */
  isNewest(sequence: number): boolean {
    return sequence > this.highest;
  }

  mark(sequence: number): void {
    if (sequence > this.highest) {
      const shift = this.highest < 0 ? REPLAY_WINDOW_SIZE : sequence - this.highest;
      this.bits = shift >= REPLAY_WINDOW_SIZE ? 0n : (this.bits << BigInt(shift)) & ((1n << 64n) - 1n);
      this.bits |= 1n;
      this.highest = sequence;
      return;
    }
    const offset = this.highest - sequence;
    if (offset < REPLAY_WINDOW_SIZE) this.bits |= 1n << BigInt(offset);
  }

  reset(): void {
    this.highest = -1;
    this.bits = 0n;
  }
}
