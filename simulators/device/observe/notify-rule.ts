/**
 * When an observation sends a notification (LwM2M 1.1 §5.1.2 / RFC 7641): never sooner than
 * pmin after the last one; always by pmax; in between only when the value changed and, for
 * numbers with gt/lt/st set, when the change crossed a threshold or stepped far enough.
 */
import type { NotificationAttributes } from './attributes.js';

export interface NotifyInput {
  now: number;
  lastSentAt: number;
  attributes: NotificationAttributes;
  /** The encoded value differs from the last one sent. */
  changed: boolean;
  /** Numeric value last sent and now, when the target is a single numeric resource. */
  lastNumber?: number;
  currentNumber?: number;
}

const crossed = (threshold: number, before: number, after: number): boolean =>
  (before <= threshold && after > threshold) || (before >= threshold && after < threshold);

export function shouldNotify(input: NotifyInput): boolean {
  const { pmin = 0, pmax = 0, gt, lt, st } = input.attributes;
  const elapsedMs = input.now - input.lastSentAt;
  // pmax below pmin is ignored (§5.1.2: pmax is only honoured when greater than pmin).
  if (pmax > 0 && pmax >= pmin && elapsedMs >= pmax * 1000) return true;
  if (!input.changed || elapsedMs < pmin * 1000) return false;
  const { lastNumber, currentNumber } = input;
  if (lastNumber === undefined || currentNumber === undefined) return true;
  if (gt === undefined && lt === undefined && st === undefined) return true;
  if (gt !== undefined && crossed(gt, lastNumber, currentNumber)) return true;
  if (lt !== undefined && crossed(lt, lastNumber, currentNumber)) return true;
  return st !== undefined && Math.abs(currentNumber - lastNumber) >= st;
}
