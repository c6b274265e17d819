/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1). The cookie is an HMAC over the
 * client's address, port and ClientHello parameters under a secret that rotates; the
 * previous secret is still accepted so a rotation never fails a handshake in flight.
 * Nothing per client is stored: a spoofed ClientHello costs one HMAC and one small reply.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';

const COOKIE_LENGTH = 20;

export class CookieFactory {
  private current = randomBytes(32);
  private previous = randomBytes(32);
  private rotatedAt: number;

  constructor(private readonly clock: Clock, private readonly rotateEveryMs = 5 * 60_000) {
    this.rotatedAt = clock.now();
  }

  private rotateIfDue(): void {
    if (this.clock.now() - this.rotatedAt < this.rotateEveryMs) return;
    this.previous = this.current;
    this.current = randomBytes(32);
    this.rotatedAt = this.clock.now();
  }

  private compute(secret: Buffer, address: string, port: number, binding: Buffer): Buffer {
    return createHmac('sha256', secret).update(`${address}|${port}|`).update(binding).digest().subarray(0, COOKIE_LENGTH);
  }

  make(address: string, port: number, binding: Buffer): Buffer {
    this.rotateIfDue();
    return this.compute(this.current, address, port, binding);
  }

  verify(cookie: Buffer, address: string, port: number, binding: Buffer): boolean {
    if (cookie.length !== COOKIE_LENGTH) return false;
    this.rotateIfDue();
    return (
      timingSafeEqual(cookie, this.compute(this.current, address, port, binding)) ||
      timingSafeEqual(cookie, this.compute(this.previous, address, port, binding))
    );
  }
}
