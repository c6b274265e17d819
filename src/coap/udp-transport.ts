/** The only file that touches sockets: a DatagramTransport over a dgram socket. */
import dgram from 'node:dgram';
import dns from 'node:dns';
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
  const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalFirstLookup });
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

/**
 * dgram resolves the destination of every send, even an IP literal: dns.lookup then runs a
 * regex and defers the send by a tick (a tenth of the send path on the registration bench).
 * Every address we answer comes from a received datagram, so literals are passed through at
 * once and only names go to the resolver.
 */
function literalFirstLookup(
  hostname: string,
  // dgram passes the socket's family as a bare number (4 or 6), whatever the typings say.
  options: dns.LookupOneOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = typeof options === 'number' ? options : options.family;
  if (family === 4 && isDottedQuad(hostname)) {
    callback(null, hostname, 4);
    return;
  }
  if (family === 6 && hostname.includes(':')) {
    callback(null, hostname, 6);
    return;
  }
  dns.lookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}

/** Four decimal octets of at most three digits (the kernel rejects a value above 255). */
function isDottedQuad(s: string): boolean {
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots++;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      digits++;
    } else {
      return false;
    }
  }
  return dots === 3 && digits > 0;
}

class UdpTransport implements DatagramTransport {
  private handler: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
  private closed = false;
  private readonly local: RemoteAddress;

  constructor(private readonly socket: dgram.Socket) {
    const bound = socket.address();
    this.local = { address: bound.address, port: bound.port };
    // A copy, not rinfo itself: remotes are stored and compared, and must be exactly { address, port }.
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
