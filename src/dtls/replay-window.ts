/**
 * Anti-replay sliding window (RFC 6347 §4.1.2.6), 64 records wide. `check` before the MAC
 * is verified, `mark` only after, so forged records cannot move the window.
 */
export const REPLAY_WINDOW_SIZE = 64;

export class ReplayWindow {
  /** Highest sequence number accepted so far; -1 before the first. */
  private highest = -1;
  /**
   * Bit i set = (highest - i) was received, as two 32-bit words (i < 32 in `low`, the rest
   * in `high`): plain small integers, so a window costs no allocation per record.
   */
  private low = 0;
  private high = 0;

  /** True when `sequence` is new and not too old to judge. */
  check(sequence: number): boolean {
    if (sequence > this.highest) return true;
    const offset = this.highest - sequence;
    if (offset >= REPLAY_WINDOW_SIZE) return false;
    return offset < 32 ? ((this.low >>> offset) & 1) === 0 : ((this.high >>> (offset - 32)) & 1) === 0;
  }

  /** True when `sequence` is above everything accepted so far (RFC 9146 §6 address updates). */
  isNewest(sequence: number): boolean {
    return sequence > this.highest;
  }

  mark(sequence: number): void {
    if (sequence > this.highest) {
      const shift = this.highest < 0 ? REPLAY_WINDOW_SIZE : sequence - this.highest;
      if (shift >= REPLAY_WINDOW_SIZE) {
        this.low = 0;
        this.high = 0;
      } else if (shift >= 32) {
        this.high = shift === 32 ? this.low : this.low << (shift - 32);
        this.low = 0;
      } else {
        // JavaScript masks shift counts to 5 bits: shift is 1..31 here, so both are exact.
        this.high = (this.high << shift) | (this.low >>> (32 - shift));
        this.low = this.low << shift;
      }
      this.low |= 1;
      this.highest = sequence;
      return;
    }
    const offset = this.highest - sequence;
    if (offset < 32) this.low |= 1 << offset;
    else if (offset < REPLAY_WINDOW_SIZE) this.high |= 1 << (offset - 32);
  }

  reset(): void {
    this.highest = -1;
    this.low = 0;
    this.high = 0;
  }
}
