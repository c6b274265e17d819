/**
 * Measured transfer throughput, per device and per device class, so a window is judged
 * against what this device (or its kind) really achieves rather than a guess. A device's own
 * figure lives with its campaign membership (a typed column of the campaign runtime, no
 * object or map entry per device); the class figures are kept here.
 */
const WEIGHT = 0.3;

export class ThroughputEstimator {
  private readonly byClass = new Map<string, number>();

  constructor(private readonly fallbackBytesPerSec: number) {}

  /**
   * Bytes moved over `activeMs` of unpaused transfer: updates the class figure and answers
   * the device's new figure (its previous one blended with this sample), or undefined when
   * nothing could be measured.
   */
  record(deviceRate: number | undefined, deviceClass: string | undefined, bytes: number, activeMs: number): number | undefined {
    if (bytes <= 0 || activeMs <= 0) return deviceRate;
    const rate = (bytes * 1000) / activeMs;
    if (deviceClass !== undefined) this.byClass.set(deviceClass, blend(this.byClass.get(deviceClass), rate));
    return blend(deviceRate, rate);
  }

  bytesPerSec(deviceRate: number | undefined, deviceClass: string | undefined): number {
    return deviceRate ?? (deviceClass !== undefined ? this.byClass.get(deviceClass) : undefined) ?? this.fallbackBytesPerSec;
  }

  estimateMs(bytes: number, deviceRate: number | undefined, deviceClass: string | undefined): number {
    return (bytes * 1000) / this.bytesPerSec(deviceRate, deviceClass);
  }
}

function blend(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous * (1 - WEIGHT) + sample * WEIGHT;
}
