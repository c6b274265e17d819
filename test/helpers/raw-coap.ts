/** A bare UDP socket that sends hand-made datagrams and collects whatever comes back. */
import dgram from 'node:dgram';
import { parseMessage } from '../../src/coap/codec.js';
import type { CoapMessage } from '../../src/coap/types.js';

function tryParse(datagram: Buffer): CoapMessage | undefined {
  try {
    return parseMessage(datagram);
  } catch {
    return undefined;
  }
}

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

  /** Waits for the first datagram after `alreadySeen` ones that `matches`, or undefined after `ms`. */
  async next(alreadySeen: number, ms = 1000, matches: (message: CoapMessage) => boolean = () => true): Promise<CoapMessage | undefined> {
    const deadline = Date.now() + ms;
    for (let index = alreadySeen; ; ) {
      while (index < this.received.length) {
        const message = tryParse(this.received[index++]);
        if (message !== undefined && matches(message)) return message;
      }
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
  }

  /**
   * Sends and waits for the answer to that datagram: an ACK or RST with its message ID, or a
   * response with its token. Answers to earlier datagrams that arrive late are passed over.
   * A datagram too short to carry a message ID waits for anything at all.
   */
  async exchange(datagram: Buffer, port: number, ms = 1000): Promise<CoapMessage | undefined> {
    const seen = this.received.length;
    this.send(datagram, port);
    if (datagram.length < 4) return this.next(seen, ms);
    const messageId = datagram.readUInt16BE(2);
    const token = datagram.subarray(4, 4 + Math.min(datagram[0] & 0x0f, 8));
    return this.next(
      seen,
      ms,
      (answer) =>
        ((answer.type === 'ACK' || answer.type === 'RST') && answer.messageId === messageId) ||
        (token.length > 0 && answer.token.equals(token)),
    );
  }

  close(): void {
    this.socket.close();
  }
}
