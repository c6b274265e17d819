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
      // Sends still queued in Node when close() runs are silently dropped, and the last
      // thing we send is often a close_notify: close() waits for them (briefly).
      let pending = 0;
      let drained: (() => void) | undefined;
      const sent = (): void => {
        if (--pending === 0) drained?.();
      };
      let handler: (d: Buffer, r: RemoteAddress) => void = () => {};
      socket.on('message', (d, info) => handler(d, { address: info.address, port: info.port }));
      resolve({
        local: { address: bound.address, port: bound.port },
        send(datagram, remote) {
          if (closed) return;
          pending++;
          socket.send(datagram, remote.port, remote.address, sent);
        },
        onMessage(h) {
          handler = h;
        },
        close() {
          if (closed) return Promise.resolve();
          closed = true;
          return new Promise((done) => {
            let finished = false;
            const finish = (): void => {
              if (finished) return;
              finished = true;
              clearTimeout(cap);
              socket.close(() => done());
            };
            const cap = setTimeout(finish, 200);
            if (pending === 0) finish();
            else drained = finish;
          });
        },
      });
    });
  });
}
