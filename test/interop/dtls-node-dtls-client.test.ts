/**
 * node-dtls-client (an independent TypeScript DTLS client) against our server, PSK suites.
 * No identity hint: node-dtls-client cannot parse a PSK ServerKeyExchange (OpenSSL test covers it).
 */
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it } from 'vitest';
import { bindDtlsTransport, type DtlsTransport } from '../../src/dtls/index.js';

const PSK = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

/** Connects, sends one message, resolves with the first message received. */
function roundTrip(port: number, cipher: 'TLS_PSK_WITH_AES_128_CCM_8' | 'TLS_PSK_WITH_AES_128_CBC_SHA256', payload: string, identity = 'ndc-1'): Promise<string> {
  return new Promise((resolve, reject) => {
    // node-dtls-client takes the key as a binary string.
    const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [identity]: PSK.toString('latin1') }, ciphers: [cipher], timeout: 5000 });
    socket.on('connected', () => socket.send(Buffer.from(payload)));
    socket.on('message', (message: Buffer) => {
      socket.close();
      resolve(message.toString());
    });
    // node-dtls-client has already torn the socket down when it reports an error.
    socket.on('error', (err: Error) => {
      reject(err);
    });
  });
}

describe('interop: node-dtls-client against our DTLS server', () => {
  let transport: DtlsTransport | undefined;
  afterEach(async () => {
    await transport?.close();
    transport = undefined;
  });

  for (const cipher of ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'] as const) {
    it(`handshakes ${cipher} and echoes`, async () => {
      transport = await bindDtlsTransport({ host: '127.0.0.1', port: 0, psk: { pskFor: (id) => (id === 'ndc-1' ? PSK : undefined) } });
      const t = transport;
      const peers: string[] = [];
      t.onDatagram((data, remote) => {
        const identity = t.peerIdentity(remote);
        peers.push(identity?.kind === 'psk' ? identity.identity : 'none');
        t.send(Buffer.from(`echo:${data.toString()}`), remote);
      });
      const answer = await roundTrip(t.address().port, cipher, 'ping-ndc');
      expect(answer).toBe('echo:ping-ndc');
      expect(peers).toEqual(['ndc-1']);
      expect(t.stats()).toMatchObject({ handshakesCompleted: 1, recordsDroppedBadMac: 0 });
    });
  }
});
