/**
 * CoAPS for the simulated device: a DatagramTransport over DTLS to the one LwM2M server.
 * PSK goes through node-dtls-client (a third-party client, so every PSK device is also an
 * interop test of our server); raw public keys, X.509 and Connection ID go through our own
 * client library (src/dtls/client), which node-dtls-client cannot do.
 */
import { dtls } from 'node-dtls-client';
import type { DatagramTransport, RemoteAddress } from '../../src/coap/types.js';
import { connectDtls } from '../../src/dtls/client/index.js';
import type { Clock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/logger.js';

export type DeviceSecurity =
  | {
      mode: 'psk';
      identity: string;
      /** The key bytes (hex in the LwM2M Security object, bytes here). */
      key: Buffer;
      /** RFC 9146 Connection ID; node-dtls-client lacks it, so this uses our client. */
      cid?: boolean;
      /** Which DTLS client carries PSK (default node-dtls-client, unless cid is asked). */
      client?: 'node-dtls-client' | 'builtin';
    }
  | {
      mode: 'rpk';
      privateKeyPem: string;
      /** The server's SubjectPublicKeyInfo DER. */
      serverPublicKeyDer: Buffer;
      cid?: boolean;
    }
  | {
      mode: 'x509';
      privateKeyPem: string;
      certificateChainPem: string[];
      trustAnchorsPem: string[];
      cid?: boolean;
    };

export interface DeviceDtlsOptions {
  server: RemoteAddress;
  security: DeviceSecurity;
  bindHost?: string;
  clock?: Clock;
  logger?: Logger;
  /** Give up the handshake after this long (default 30 s). */
  handshakeTimeoutMs?: number;
}

export async function connectDeviceDtls(options: DeviceDtlsOptions): Promise<DatagramTransport> {
  const { security, server } = options;
  if (security.mode === 'psk' && !security.cid && (security.client ?? 'node-dtls-client') === 'node-dtls-client') {
    return connectThirdPartyPsk(server, security.identity, security.key, options.handshakeTimeoutMs ?? 30_000);
  }
  const common = {
    host: server.address,
    port: server.port,
    ...(options.bindHost ? { bindHost: options.bindHost } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(security.cid ? { cid: true } : {}),
    // Up to ~31 s of retransmissions (1+2+4+8+16) before a handshake is abandoned.
    retransmission: { maxRetransmissions: 4 },
  };
  switch (security.mode) {
    case 'psk':
      return connectDtls({ ...common, psk: { identity: security.identity, key: security.key } });
    case 'rpk':
      return connectDtls({ ...common, ecdsa: { privateKeyPem: security.privateKeyPem, rawPublicKey: true, serverPublicKeyDer: security.serverPublicKeyDer } });
    case 'x509':
      return connectDtls({
        ...common,
        ecdsa: { privateKeyPem: security.privateKeyPem, certificateChainPem: security.certificateChainPem, trustAnchorsPem: security.trustAnchorsPem },
      });
  }
}

/** node-dtls-client as a DatagramTransport; resolves once its handshake completes. */
function connectThirdPartyPsk(server: RemoteAddress, identity: string, key: Buffer, timeoutMs: number): Promise<DatagramTransport> {
  return new Promise((resolve, reject) => {
    let deliver: (datagram: Buffer, remote: RemoteAddress) => void = () => {};
    let connected = false;
    let closed = false;
    const socket = dtls.createSocket({
      type: server.address.includes(':') ? 'udp6' : 'udp4',
      address: server.address,
      port: server.port,
      // node-dtls-client takes the key as a binary string.
      psk: { [identity]: key.toString('latin1') },
      ciphers: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
      timeout: timeoutMs,
    });
    socket.on('message', (message: Buffer) => deliver(message, server));
    socket.on('error', (err: Error) => {
      closed = true;
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('connected', () => {
      connected = true;
      // The library keeps its dgram socket private; its bound address is what CoAP reports.
      const udp = (socket as unknown as { udp?: { address(): { address: string; port: number } } }).udp;
      const local = udp ? udp.address() : { address: '0.0.0.0', port: 0 };
      resolve({
        send: (datagram) => {
          if (!closed) socket.send(datagram);
        },
        onDatagram: (handler) => {
          deliver = handler;
        },
        address: () => ({ address: local.address, port: local.port }),
        close: () =>
          new Promise<void>((done) => {
            if (closed) return done();
            closed = true;
            socket.close(() => done());
          }),
      });
    });
  });
}
