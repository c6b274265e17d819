/** A bare UDP socket that sends hand-made datagrams and collects whatever comes back. */
import dgram from 'node:dgram';
import { parseMessage } from '../../src/coap/codec.js';
import type { CoapMessage } from '../../src/coap/types.js';

export class RawPeer {
  private readonly socket = dgram.createSocket('udp4');
  readonly received: Buffer[] = [];
  private waiters: (() => void)[] = [];

  static async open(): Promise<RawPeer> {
    const peer = new RawPeer();
    await new Promise<void>((resolve) => peer.socket.bind(0, '127.0.0.1', resolve));
    peer.socket.on('message', (datagram) => {
      peer.received.push(datagram);
      for (const wake of peer.waiters.splice(0)) wake();
    });
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(datagram: Buffer, port: number): void {
    this.socket.send(datagram, port, '127.0.0.1');
  }

  /** Waits for the next datagram after `alreadySeen` ones, or undefined after `ms`. */
  async next(alreadySeen: number, ms = 1000): Promise<CoapMessage | undefined> {
    const deadline = Date.now() + ms;
    while (this.received.length <= alreadySeen) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return parseMessage(this.received[alreadySeen]);
  }

  /** Sends and waits for one answer. */
  async exchange(datagram: Buffer, port: number, ms = 1000): Promise<CoapMessage | undefined> {
    const seen = this.received.length;
    this.send(datagram, port);
    return this.next(seen, ms);
  }

  close(): void {
    this.socket.close();
  }
}
