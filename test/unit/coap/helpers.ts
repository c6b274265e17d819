/** Test plumbing: endpoints on 127.0.0.1:0, raw sockets for exact datagrams, a lossy transport. */
import dgram from 'node:dgram';
import { afterEach } from 'vitest';
import { CoapEndpoint, type CoapEndpointOptions } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import type { CoapMessage, DatagramTransport, RemoteAddress } from '../../../src/coap/types.js';

export async function endpoint(options: Partial<CoapEndpointOptions> = {}): Promise<CoapEndpoint> {
  const transport = options.transport ?? (await bindUdpTransport({ host: '127.0.0.1', port: 0 }));
  return new CoapEndpoint({ ...options, transport });
}

/** Drops the first `dropFirst` outgoing datagrams (or all when Infinity); counts sends. */
export class LossyTransport implements DatagramTransport {
  sends = 0;
  readonly sent: Buffer[] = [];
  constructor(private readonly inner: DatagramTransport, private dropFirst: number) {}
  send(datagram: Buffer, remote: RemoteAddress): void {
    this.sends++;
    this.sent.push(datagram);
    if (this.dropFirst > 0) {
      this.dropFirst--;
      return;
    }
    this.inner.send(datagram, remote);
  }
  onDatagram(handler: (datagram: Buffer, remote: RemoteAddress) => void): void {
    this.inner.onDatagram(handler);
  }
  address(): RemoteAddress {
    return this.inner.address();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A raw UDP socket that sends exact bytes and collects what comes back. */
export class RawPeer {
  private readonly queue: Buffer[] = [];
  private waiters: Array<(b: Buffer) => void> = [];
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.queue.push(msg);
    });
  }
  static async open(): Promise<RawPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawPeer(socket);
  }
  address(): RemoteAddress {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }
  send(bytes: Buffer | CoapMessage, to: RemoteAddress): void {
    this.socket.send(Buffer.isBuffer(bytes) ? bytes : serializeMessage(bytes), to.port, to.address);
  }
  next(timeoutMs = 2000): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error('no datagram within timeout'));
      }, timeoutMs);
      const done = (b: Buffer): void => {
        clearTimeout(timer);
        resolve(b);
      };
      this.waiters.push(done);
    });
  }
  async nextMessage(timeoutMs?: number): Promise<CoapMessage> {
    return parseMessage(await this.next(timeoutMs));
  }
  /** Resolves true if nothing arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }
  /** Runs `answer` for every datagram that arrives (a scripted peer). */
  serve(answer: (msg: CoapMessage, from: RemoteAddress) => void): void {
    this.socket.removeAllListeners('message');
    this.socket.on('message', (data, info) => answer(parseMessage(data), { address: info.address, port: info.port }));
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export const msg = (m: Partial<CoapMessage> & Pick<CoapMessage, 'type' | 'code' | 'messageId'>): CoapMessage => ({
  token: Buffer.alloc(0),
  options: [],
  payload: Buffer.alloc(0),
  ...m,
});

export const pattern = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
};

/** Endpoints and raw peers for one test file, each closed after the test that opened it. */
export function closedAfterEach(): {
  endpoint(options?: Partial<CoapEndpointOptions>): Promise<CoapEndpoint>;
  raw(): Promise<RawPeer>;
} {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return {
    async endpoint(options = {}) {
      const e = await endpoint(options);
      cleanups.push(() => e.close());
      return e;
    },
    async raw() {
      const p = await RawPeer.open();
      cleanups.push(() => p.close());
      return p;
    },
  };
}
