/** The only DTLS file that touches sockets: a bound dgram socket, nothing more. */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { RemoteAddress } from '../coap/types.js';

export interface BoundUdpSocket {
  local: RemoteAddress;
  send(datagram: Buffer, remote: RemoteAddress): void;
  onMessage(handler: (datagram: Buffer, remote: RemoteAddress) => void): void;
  close(): Promise<void>;
}

const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Longest close() waits for queued datagrams. */
const CLOSE_DRAIN_MS = 200;

export function bindUdpSocket(host: string, port: number): Promise<BoundUdpSocket> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const socket = dgram.createSocket({ type: isIPv6(bare) ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onBindError);
    socket.bind(port, bare, () => {
      socket.off('error', onBindError);
      // ICMP errors (port unreachable) land here; UDP is unreliable by contract.
      socket.on('error', () => {});
      const bound = socket.address();
      let closed = false;
      // As the plain CoAP transport: larger kernel buffers for bursts (failures are harmless).
      for (const set of [() => socket.setRecvBufferSize(SOCKET_BUFFER_BYTES), () => socket.setSendBufferSize(SOCKET_BUFFER_BYTES)]) {
        try {
          set();
        } catch {
          /* the OS keeps its default size */
        }
      }
      let handler: (d: Buffer, r: RemoteAddress) => void = () => {};
      socket.on('message', (d, info) => handler(d, { address: info.address, port: info.port }));
      resolve({
        local: { address: bound.address, port: bound.port },
        send(datagram, remote) {
          if (closed) return;
          // No completion callback: without one Node sends synchronously when it can and
          // skips a callback per datagram. Errors still reach the 'error' listener.
          socket.send(datagram, remote.port, remote.address);
        },
        onMessage(h) {
          handler = h;
        },
        close() {
          if (closed) return Promise.resolve();
          closed = true;
          // Sends still queued in Node when close() runs are silently dropped, and the last
          // thing we send is often a close_notify: close() waits for them (briefly). A send
          // first passes an address lookup (next tick), then may wait in libuv's queue.
          return new Promise((done) => {
            const giveUpAt = Date.now() + CLOSE_DRAIN_MS;
            const attempt = (): void => {
              if (socket.getSendQueueCount() > 0 && Date.now() < giveUpAt) {
                setTimeout(attempt, 2);
                return;
              }
              socket.close(() => done());
            };
            setImmediate(attempt);
          });
        },
      });
    });
  });
}
