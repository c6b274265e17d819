/**
 * Shared by the DTLS client tests (not a test file itself): P-256 keys and a small X.509 PKI
 * made with the openssl CLI, and an in-memory wire between our client engine and our server
 * core on a ManualClock, with hooks to drop, duplicate or reorder datagrams.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteAddress } from '../../../src/coap/types.js';
import { DtlsClientConnection, type DtlsClientConfig, type DtlsHandshakeError } from '../../../src/dtls/client/index.js';
import { DtlsServer, type DtlsEvent, type DtlsServerOptions } from '../../../src/dtls/index.js';
import { ManualClock } from '../../../src/util/clock.js';

export interface Pki {
  dir: string;
  pem(name: string): string;
  file(name: string): string;
  spki(keyName: string): Buffer;
  cleanup(): void;
}

/**
 * ca, server (CN=server) and client (CN=device-42) signed by ca; rogue-ca signing
 * rogue-server; expired-server (validity in the past); rpk-only keys for raw public keys.
 */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'dtls-client-pki-'));
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  for (const name of ['ca', 'server', 'client', 'rogue-ca', 'rogue-server', 'other']) ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  ossl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test-ca', '-days', '2', '-out', 'ca.pem');
  ossl('req', '-x509', '-new', '-key', 'rogue-ca.key', '-subj', '/CN=rogue-ca', '-days', '2', '-out', 'rogue-ca.pem');
  const issue = (name: string, cn: string, ca: string): void => {
    ossl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`);
  };
  issue('server', 'server', 'ca');
  issue('client', 'device-42', 'ca');
  issue('rogue-server', 'server', 'rogue-ca');
  const pem = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return {
    dir,
    pem,
    file: (name) => join(dir, name),
    spki: (keyName) => createPublicKey(pem(keyName)).export({ type: 'spki', format: 'der' }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const SERVER_ADDRESS: RemoteAddress = { address: '10.0.0.9', port: 5684 };
export const CLIENT_ADDRESS: RemoteAddress = { address: '10.0.0.1', port: 40000 };

/** Decides the fate of each datagram: delivered (possibly twice) or dropped. */
export type WireFilter = (datagram: Buffer, direction: 'toServer' | 'toClient', index: number) => 'deliver' | 'drop' | 'duplicate' | 'hold';

export interface ClientEnd {
  client: DtlsClientConnection;
  delivered: string[];
  established: boolean;
  closed?: { reason: string; error?: DtlsHandshakeError };
  /** Where this client's datagrams come from (change it to simulate a NAT rebinding). */
  from: RemoteAddress;
}

export interface Wire extends ClientEnd {
  clock: ManualClock;
  server: DtlsServer;
  events: DtlsEvent[];
  toServerCount: number;
  toClientCount: number;
  serverDelivered: string[];
  /** Delivers queued datagrams until none is left (held ones are released at the end, reversed). */
  pump(): void;
  /** Another client of the same server, from another address. */
  addClient(config: Omit<DtlsClientConfig, 'clock'>, from: RemoteAddress): ClientEnd;
}

export function makeWire(serverOptions: Omit<DtlsServerOptions, 'clock'>, clientConfig: Omit<DtlsClientConfig, 'clock'>, filter: WireFilter = () => 'deliver', clock = new ManualClock(Date.now())): Wire {
  type Item = { datagram: Buffer; direction: 'toServer' | 'toClient'; end: ClientEnd; from: RemoteAddress };
  const queue: Item[] = [];
  const held: Item[] = [];
  const ends: ClientEnd[] = [];
  const counters = { toServer: 0, toClient: 0 };
  const enqueue = (datagram: Buffer, direction: 'toServer' | 'toClient', end: ClientEnd): void => {
    const index = direction === 'toServer' ? counters.toServer++ : counters.toClient++;
    const fate = filter(datagram, direction, index);
    const item = { datagram, direction, end, from: end.from };
    if (fate === 'drop') return;
    if (fate === 'hold') held.push(item);
    else queue.push(item);
    if (fate === 'duplicate') queue.push(item);
  };
  const serverDelivered: string[] = [];
  const events: DtlsEvent[] = [];
  const server = new DtlsServer({ ...serverOptions, clock }, {
    sendDatagram: (d, remote) => {
      const end = ends.find((e) => e.from.address === remote.address && e.from.port === remote.port);
      if (end) enqueue(d, 'toClient', end);
    },
    deliver: (d, remote) => {
      serverDelivered.push(d.toString());
      server.send(Buffer.from(`echo:${d.toString()}`), remote);
    },
  });
  server.onEvent((e) => events.push(e));
  const addClient = (config: Omit<DtlsClientConfig, 'clock'>, from: RemoteAddress): ClientEnd => {
    const end = { delivered: [] as string[], established: false, from } as ClientEnd;
    end.client = new DtlsClientConnection({ ...config, clock }, {
      sendDatagram: (d) => enqueue(d, 'toServer', end),
      deliver: (d) => end.delivered.push(d.toString()),
      onEstablished: () => (end.established = true),
      onClosed: (reason, error) => (end.closed = { reason, ...(error ? { error } : {}) }),
    });
    ends.push(end);
    return end;
  };
  const first = addClient(clientConfig, CLIENT_ADDRESS);
  const pump = (): void => {
    for (let guard = 0; guard < 10_000; guard++) {
      let item = queue.shift();
      if (!item && held.length > 0) {
        queue.push(...held.splice(0).reverse());
        item = queue.shift();
      }
      if (!item) return;
      if (item.direction === 'toServer') server.handleDatagram(item.datagram, item.from);
      else item.end.client.handleDatagram(item.datagram);
    }
    throw new Error('wire did not settle');
  };
  // The first client's fields live on the wire itself for the common one-client case.
  return Object.defineProperties(
    { clock, server, events, serverDelivered, pump, addClient } as unknown as Wire,
    {
      client: { get: () => first.client },
      delivered: { get: () => first.delivered },
      established: { get: () => first.established },
      closed: { get: () => first.closed },
      from: { get: () => first.from, set: (v: RemoteAddress) => (first.from = v) },
      toServerCount: { get: () => counters.toServer },
      toClientCount: { get: () => counters.toClient },
    },
  );
}

export const PSK = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
export const pskServer = (): Omit<DtlsServerOptions, 'clock'> => ({ psk: { pskFor: (id) => (id === 'dev' ? PSK : undefined) } });
