/**
 * A device's radio link, made worse on purpose: drops a share of datagrams both ways and
 * limits the byte rate of what the device sends and receives, as a slow or lossy radio
 * would. Wraps any DatagramTransport, so it applies to CoAP requests and pulls alike.
 */
import type { DatagramTransport, RemoteAddress } from '../../../src/coap/types.js';

export interface LinkShape {
  /** Percentage (0–100) of datagrams lost in each direction. */
  dropPercent?: number;
  /** Bytes per second in each direction; undefined = as fast as loopback. */
  bytesPerSecond?: number;
  random?: () => number;
}

export class ShapedTransport implements DatagramTransport {
  private deliver: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
  private readonly random: () => number;
  /** When the link is free again, per direction (ms, Date.now clock). */
  private busyUntil = { out: 0, in: 0 };
  dropped = 0;

  constructor(
    private readonly inner: DatagramTransport,
    private readonly shape: LinkShape,
  ) {
    this.random = shape.random ?? Math.random;
    inner.onDatagram((datagram, remote) => {
      if (this.drop()) return;
      this.after('in', datagram.length, () => this.deliver(datagram, remote));
    });
  }

  send(datagram: Buffer, remote: RemoteAddress): void {
    if (this.drop()) return;
    this.after('out', datagram.length, () => this.inner.send(datagram, remote));
  }

  onDatagram(handler: (datagram: Buffer, remote: RemoteAddress) => void): void {
    this.deliver = handler;
  }

  address(): RemoteAddress {
    return this.inner.address();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private drop(): boolean {
    const percent = this.shape.dropPercent ?? 0;
    if (percent > 0 && this.random() * 100 < percent) {
      this.dropped++;
      return true;
    }
    return false;
  }

  private after(direction: 'in' | 'out', bytes: number, action: () => void): void {
    const rate = this.shape.bytesPerSecond;
    if (rate === undefined || rate <= 0) {
      action();
      return;
    }
    const now = Date.now();
    const start = Math.max(now, this.busyUntil[direction]);
    this.busyUntil[direction] = start + (bytes * 1000) / rate;
    const delay = this.busyUntil[direction] - now;
    if (delay < 1) action();
    else setTimeout(action, delay).unref();
  }
}
