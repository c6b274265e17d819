/**
 * Connection ID over real sockets: a hand-rolled client (test/unit/dtls/test-client.ts)
 * handshakes from one UDP port, then continues from another, as after a NAT rebinding.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { RemoteAddress } from '../../src/coap/types.js';
import { bindDtlsTransport, type DtlsTransport } from '../../src/dtls/index.js';
import { TestPskClient } from '../unit/dtls/test-client.js';

const PSK = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');

async function openSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

/** Sends a datagram and feeds every answer that arrives within `ms` to the client. */
async function exchange(socket: dgram.Socket, client: TestPskClient, datagram: Buffer, port: number, ms = 150): Promise<number> {
  let answers = 0;
  const onMessage = (m: Buffer): void => {
    answers++;
    client.receive(m);
  };
  socket.on('message', onMessage);
  socket.send(datagram, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, ms));
  socket.off('message', onMessage);
  return answers;
}

describe('interop: DTLS Connection ID moves a session to a new source port', () => {
  let transport: DtlsTransport | undefined;
  const sockets: dgram.Socket[] = [];
  afterEach(async () => {
    await transport?.close();
    transport = undefined;
    for (const s of sockets.splice(0)) s.close();
  });

  it('keeps the session, tells the layer above, and answers at the new port', async () => {
    transport = await bindDtlsTransport({ host: '127.0.0.1', port: 0, psk: { pskFor: (id) => (id === 'mover' ? PSK : undefined) } });
    const t = transport;
    const port = t.address().port;
    const moves: Array<[RemoteAddress, RemoteAddress]> = [];
    t.onAddressChange((o, n) => moves.push([o, n]));
    t.onDatagram((data, remote) => t.send(Buffer.from(`echo:${data.toString()}:${remote.port}`), remote));

    const first = await openSocket();
    const second = await openSocket();
    sockets.push(first, second);
    const client = new TestPskClient({ identity: 'mover', psk: PSK, offerCid: Buffer.alloc(0) });
    await exchange(first, client, client.hello(), port);
    await exchange(first, client, client.hello(), port);
    await exchange(first, client, client.finishFlight(), port);
    expect(client.established).toBe(true);
    expect(client.serverCid).toHaveLength(6);

    await exchange(first, client, client.appData(Buffer.from('a')), port);
    const oldPort = first.address().port;
    expect(client.received.map(String)).toEqual([`echo:a:${oldPort}`]);

    const answers = await exchange(second, client, client.appData(Buffer.from('b')), port);
    const newPort = second.address().port;
    expect(answers).toBe(1);
    expect(client.received.map(String)).toEqual([`echo:a:${oldPort}`, `echo:b:${newPort}`]);
    expect(moves).toEqual([[{ address: '127.0.0.1', port: oldPort }, { address: '127.0.0.1', port: newPort }]]);
    expect(t.peerIdentity({ address: '127.0.0.1', port: newPort })).toEqual({ kind: 'psk', identity: 'mover' });
    expect(t.peerIdentity({ address: '127.0.0.1', port: oldPort })).toBeUndefined();
    expect(t.stats()).toMatchObject({ addressChanges: 1, sessions: 1 });
  });
});
