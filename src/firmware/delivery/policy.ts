/** Timeouts and bounds of a delivery, with defaults for real devices (tests shorten them). */
export interface DeliveryPolicy {
  /** Transfer attempts (first one included) before a retryable failure becomes final. */
  maxAttempts: number;
  /** How many user deferrals (result 11) are waited out before giving up. */
  maxDeferrals: number;
  /** Used when the device has no Maximum Defer Period (/5/0/13) or reports 0. */
  defaultDeferMs: number;
  /** Per phase: how long the device may stay silent (no progress, no state change). */
  inspectTimeoutMs: number;
  transferTimeoutMs: number;
  downloadedTimeoutMs: number;
  updatingTimeoutMs: number;
  verifyingTimeoutMs: number;
  /** Each device request's no-progress timeout (a push block, a read, an execute). */
  requestTimeoutMs: number;
  /** Polling interval when the device cannot be observed. */
  pollIntervalMs: number;
  /** Push Block1 size exponent (szx 0..6 = 16..1024 bytes); the device may ask for smaller. */
  pushBlockSzx: number;
}

export const DEFAULT_POLICY: DeliveryPolicy = {
  maxAttempts: 3,
  maxDeferrals: 3,
  defaultDeferMs: 60 * 60_000,
  inspectTimeoutMs: 120_000,
  transferTimeoutMs: 10 * 60_000,
  downloadedTimeoutMs: 120_000,
  updatingTimeoutMs: 10 * 60_000,
  verifyingTimeoutMs: 10 * 60_000,
  requestTimeoutMs: 93_000,
  pollIntervalMs: 30_000,
  pushBlockSzx: 6,
};

export function phaseTimeoutMs(policy: DeliveryPolicy, state: string): number | undefined {
  switch (state) {
    case 'inspecting':
      return policy.inspectTimeoutMs;
    case 'transferring':
      return policy.transferTimeoutMs;
    case 'downloaded':
      return policy.downloadedTimeoutMs;
    case 'updating':
      return policy.updatingTimeoutMs;
    case 'verifying':
      return policy.verifyingTimeoutMs;
    default:
      return undefined;
  }
}
