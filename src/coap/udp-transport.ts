/** The only file that touches sockets: a DatagramTransport over a dgram socket. */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { DatagramTransport, RemoteAddress } from './types.js';

export interface UdpTransportOptions {
  host: string;
  port: number;
  /** Bytes; default 4 MiB so a benchmark burst is queued, not dropped (the OS may cap it). */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;

export function bindUdpTransport(opts: UdpTransportOptions): Promise<DatagramTransport> {
  const host = opts.host.startsWith('[') && opts.host.endsWith(']') ? opts.host.slice(1, -1) : opts.host;
  const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onBindError);
    socket.bind(opts.port, host, () => {
      socket.off('error', onBindError);
      // Failures are non-fatal: the OS keeps its default size.
      trySet(() => socket.setRecvBufferSize(opts.recvBufferSize ?? DEFAULT_BUFFER_BYTES));
      trySet(() => socket.setSendBufferSize(opts.sendBufferSize ?? DEFAULT_BUFFER_BYTES));
      resolve(new UdpTransport(socket));
    });
  });
}

function trySet(set: () => void): void {
  try {
    set();
  } catch {
    /* the OS refused the size; defaults still work, only bursts suffer */
  }
}

class UdpTransport implements DatagramTransport {
  private handler: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
  private closed = false;
  private readonly local: RemoteAddress;

  constructor(private readonly socket: dgram.Socket) {
    const bound = socket.address();
    this.local = { address: bound.address, port: bound.port };
    socket.on('message', (datagram, info) => this.handler(datagram, { address: info.address, port: info.port }));
    // ICMP errors (port unreachable) surface here; UDP is unreliable by contract, so they are dropped.
    socket.on('error', () => {});
  }

  send(datagram: Buffer, remote: RemoteAddress): void {
    if (this.closed) return;
    // No completion callback: without one Node sends synchronously and skips a callback
    // per datagram (about a third of the send cost). Errors still reach the 'error' listener.
    this.socket.send(datagram, remote.port, remote.address);
  }

  onDatagram(handler: (datagram: Buffer, remote: RemoteAddress) => void): void {
    this.handler = handler;
  }

  address(): RemoteAddress {
    return this.local;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
