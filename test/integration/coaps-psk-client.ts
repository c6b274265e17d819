/**
 * node-dtls-client (a DTLS client we did not write) as a DatagramTransport, so our own
 * CoapEndpoint runs over it as a device would: it sends registrations and answers the
 * server's requests through the DTLS session.
 */
import { dtls } from 'node-dtls-client';
import { CoapEndpoint } from '../../src/coap/index.js';
import type { DatagramTransport, RemoteAddress } from '../../src/coap/types.js';

export interface PskDevice {
  coap: CoapEndpoint;
  server: RemoteAddress;
  close(): Promise<void>;
}

/** Handshakes TLS_PSK_WITH_AES_128_CCM_8 with `identity`/`key`; rejects when the handshake fails. */
export function connectPskDevice(port: number, identity: string, key: Buffer): Promise<PskDevice> {
  const server: RemoteAddress = { address: '127.0.0.1', port };
  return new Promise((resolve, reject) => {
    const socket = dtls.createSocket({
      type: 'udp4',
      address: server.address,
      port,
      // node-dtls-client takes the key as a binary string.
      psk: { [identity]: key.toString('latin1') },
      ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
      timeout: 5000,
    });
    let deliver: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
    let open = true;
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const transport: DatagramTransport = {
      send: (datagram) => {
        if (open) socket.send(datagram);
      },
      onDatagram: (handler) => {
        deliver = handler;
      },
      address: () => ({ address: '127.0.0.1', port: 0 }),
      close: async () => {
        if (!open) return;
        open = false;
        socket.close();
        // node-dtls-client reports 'close' only when it did not tear the socket down itself.
        await Promise.race([closed, new Promise((done) => setTimeout(done, 300))]);
      },
    };
    socket.on('message', (message: Buffer) => deliver(message, server));
    socket.once('connected', () => {
      // Short CoAP timers: a lost request should fail the test in seconds, not 93 s.
      const coap = new CoapEndpoint({ transport, ackTimeoutMs: 500, maxRetransmit: 2 });
      resolve({ coap, server, close: () => coap.close() });
    });
    // node-dtls-client has already torn the socket down when it reports an error.
    socket.once('error', (err: Error) => {
      open = false;
      reject(err);
    });
  });
}
