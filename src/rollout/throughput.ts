/**
 * Measured transfer throughput, per device and per device class, so a window is judged
 * against what this device (or its kind) really achieves rather than a guess.
 */
const WEIGHT = 0.3;

export class ThroughputEstimator {
  private readonly byDevice = new Map<string, number>();
  private readonly byClass = new Map<string, number>();

  constructor(private readonly fallbackBytesPerSec: number) {}

  /** Bytes moved over `activeMs` of unpaused transfer. */
  record(endpoint: string, deviceClass: string | undefined, bytes: number, activeMs: number): void {
    if (bytes <= 0 || activeMs <= 0) return;
    const rate = (bytes * 1000) / activeMs;
    this.byDevice.set(endpoint, blend(this.byDevice.get(endpoint), rate));
    if (deviceClass !== undefined) this.byClass.set(deviceClass, blend(this.byClass.get(deviceClass), rate));
  }

  bytesPerSec(endpoint: string, deviceClass: string | undefined): number {
    return this.byDevice.get(endpoint) ?? (deviceClass !== undefined ? this.byClass.get(deviceClass) : undefined) ?? this.fallbackBytesPerSec;
  }

  estimateMs(bytes: number, endpoint: string, deviceClass: string | undefined): number {
    return (bytes * 1000) / this.bytesPerSec(endpoint, deviceClass);
  }

  /** Per-device figures are dropped when the device leaves a campaign, to bound memory at scale. */
  forget(endpoint: string): void {
    this.byDevice.delete(endpoint);
  }
}

function blend(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous * (1 - WEIGHT) + sample * WEIGHT;
}
