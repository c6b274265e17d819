/**
 * Restart without re-registration: the real CLI in a child process, real UDP devices,
 * kill -9 in the middle of registration churn, restart on the same data dir and port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, startServerProcess, type ServerProcess } from '../helpers/cli-process.js';
import { RawPeer } from '../helpers/raw-coap.js';
import { bindUdpTransport } from '../../src/coap/udp-transport.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { serializeMessage } from '../../src/coap/codec.js';
import { CoapCode, CoapOptionNumber, type CoapMessage } from '../../src/coap/types.js';
import { ROW } from '../../src/store/registration-codec.js';

const FLUSH_INTERVAL_MS = 100;
const LINKS = '</1/0>,</3/0>';

/** A device made of a CoapEndpoint: registers, then answers GET /3/0/0 with its name. */
async function realDevice(name: string): Promise<CoapEndpoint> {
  const transport = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
  const device = new CoapEndpoint({ transport });
  device.setRequestHandler((req) => {
    if (req.method === 'GET' && req.path.join('/') === '3/0/0') {
      return { code: CoapCode.Content, payload: Buffer.from(`maker of ${name}`), contentFormat: 0 };
    }
    return { code: CoapCode.NotFound };
  });
  return device;
}

let messageId = 1;
function registerDatagram(endpoint: string, lifetimeSec = 600): Buffer {
  const id = messageId++ & 0xffff;
  const message: CoapMessage = {
    version: 1,
    type: 'CON',
    code: CoapCode.POST,
    messageId: id,
    token: Buffer.from([id >> 8, id & 0xff, 0x52]),
    options: [
      { number: CoapOptionNumber.UriPath, value: Buffer.from('rd') },
      { number: CoapOptionNumber.ContentFormat, value: Buffer.from([40]) },
      { number: CoapOptionNumber.UriQuery, value: Buffer.from(`ep=${endpoint}`) },
      { number: CoapOptionNumber.UriQuery, value: Buffer.from(`lt=${lifetimeSec}`) },
      { number: CoapOptionNumber.UriQuery, value: Buffer.from('lwm2m=1.1') },
    ],
    payload: Buffer.from(LINKS),
  } as CoapMessage;
  return serializeMessage(message);
}

interface ClientJson {
  endpoint: string;
  registrationId: string;
  registrationDate: number;
  lastUpdate: number;
  address: string;
  lifetime: number;
  availableInstances: Record<string, number[]>;
}

async function clients(server: ServerProcess): Promise<Map<string, ClientJson>> {
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/api/clients`);
  expect(response.status).toBe(200);
  const list = (await response.json()) as ClientJson[];
  return new Map(list.map((c) => [c.endpoint, c]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('restart without re-registration (kill -9, SQLite)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps every acknowledged device, reachable, after kill -9 in the middle of churn', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const coapPort = await freeUdpPort();
    const args = ['--coap-port', String(coapPort), '--data-dir', dataDir, '--log-level', 'warn'];

    let server = await startServerProcess(args);
    cleanups.push(async () => void (await server.stop('SIGKILL')));

    // Real devices that will be read after the restart.
    const names = Array.from({ length: 5 }, (_, i) => `real-${i}`);
    const devices = await Promise.all(names.map(realDevice));
    cleanups.push(() => Promise.all(devices.map((d) => d.close())).then(() => undefined));
    for (const [i, device] of devices.entries()) {
      const answer = await device.request(
        { address: '127.0.0.1', port: coapPort },
        { method: 'POST', path: ['rd'], query: [`ep=${names[i]}`, 'lt=600', 'lwm2m=1.1', 'b=U'], payload: Buffer.from(LINKS), contentFormat: 40 },
      );
      expect(answer.code).toBe(CoapCode.Created);
    }

    // Churn: raw registrations, each acknowledged with 2.01.
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    const acknowledged: string[] = [];
    for (let i = 0; i < 150; i++) {
      const reply = await peer.exchange(registerDatagram(`churn-${i}`), coapPort);
      expect(reply?.code).toBe(CoapCode.Created);
      acknowledged.push(`churn-${i}`);
    }
    const before = await clients(server);
    expect(before.size).toBe(155);

    // Everything above is older than one flush interval by the time of the kill; what
    // follows is sent right up to it and may or may not survive.
    await sleep(FLUSH_INTERVAL_MS * 3);
    const unacknowledged: string[] = [];
    for (let i = 0; i < 300; i++) {
      unacknowledged.push(`late-${i}`);
      peer.send(registerDatagram(`late-${i}`), coapPort);
      if (i === 200) expect(await server.stop('SIGKILL')).toBe(null);
    }
    expect(server.child.signalCode).toBe('SIGKILL');

    server = await startServerProcess(args);
    expect(server.coapPort).toBe(coapPort);
    const after = await clients(server);

    for (const name of [...names, ...acknowledged]) {
      const restored = after.get(name);
      expect(restored, name).toBeDefined();
      // Same registration, same address, lifetime continuing from the stored lastUpdate.
      expect(restored).toEqual(before.get(name));
      expect(restored!.registrationId).toBe(before.get(name)!.registrationId);
      expect(restored!.address).toBe(before.get(name)!.address);
      expect(restored!.lastUpdate).toBe(before.get(name)!.lastUpdate);
      expect(restored!.lifetime).toBe(600);
      expect(restored!.availableInstances).toEqual({ '1': [0], '3': [0] });
    }
    // Nothing invented, nothing half-written.
    const known = new Set([...names, ...acknowledged, ...unacknowledged]);
    for (const [name, client] of after) {
      expect(known.has(name), name).toBe(true);
      expect(client.lifetime).toBe(600);
      expect(client.availableInstances).toEqual({ '1': [0], '3': [0] });
    }

    // Requests to the restored devices work without them re-registering.
    for (const name of names) {
      const response = await fetch(`http://127.0.0.1:${server.httpPort}/api/clients/${name}/3/0/0?format=TEXT&timeout=5`);
      expect(response.status, name).toBe(200);
      const body = (await response.json()) as { content: { value: unknown } };
      expect(body.content.value).toBe(`maker of ${name}`);
    }

    // A restored registration id still accepts the device's update.
    const update = await devices[0].request({ address: '127.0.0.1', port: coapPort }, { method: 'POST', path: ['rd', after.get(names[0])!.registrationId] });
    expect(update.code).toBe(CoapCode.Changed);
  });

  it('a de-registered device does not come back, and an expired one expires at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const coapPort = await freeUdpPort();
    const args = ['--coap-port', String(coapPort), '--data-dir', dataDir, '--log-level', 'warn'];
    let server = await startServerProcess(args);
    cleanups.push(async () => void (await server.stop('SIGKILL')));

    const device = await realDevice('gone');
    cleanups.push(() => device.close());
    const server0 = { address: '127.0.0.1', port: coapPort };
    const reg = await device.request(server0, { method: 'POST', path: ['rd'], query: ['ep=gone', 'lt=600'], payload: Buffer.from(LINKS), contentFormat: 40 });
    const location = reg.message.options.filter((o) => o.number === CoapOptionNumber.LocationPath).map((o) => o.value.toString());
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    expect((await peer.exchange(registerDatagram('stays'), coapPort))?.code).toBe(CoapCode.Created);
    expect((await peer.exchange(registerDatagram('lapses'), coapPort))?.code).toBe(CoapCode.Created);
    await sleep(FLUSH_INTERVAL_MS * 3);
    const bye = await device.request(server0, { method: 'DELETE', path: location });
    expect(bye.code).toBe(CoapCode.Deleted);
    // Killed right after the 2.02: the de-registration must already be durable.
    await server.stop('SIGKILL');

    // While the server is down, time passes for 'lapses': its last update is an hour old.
    const db = new Database(join(dataDir, 'lwm2m.sqlite'));
    // The log's last row of 'lapses' ([endpoint, ...stored row]), written again after it as a
    // later entry, with the times changed.
    const row = db
      .prepare("SELECT value AS data FROM registration_log, json_each(entries) WHERE value ->> 0 = 'lapses' ORDER BY pos DESC LIMIT 1")
      .get() as { data: string };
    const stored = (JSON.parse(row.data) as unknown[]).slice(1) as number[];
    stored[ROW.registeredAt] = Date.now() - 3_600_000;
    stored[ROW.updatedAfter] = 0;
    // Its expiry is lastUpdateAt + the lifetime of its shape.
    expect(stored.length).toBe(ROW.expiresAfter);
    // registeredAt is stored as an offset from time_base: a base of 0 makes it absolute.
    db.prepare('INSERT INTO registration_log (pos, time_base, entries) VALUES ((SELECT MAX(pos) FROM registration_log) + 1, 0, ?)').run(
      JSON.stringify([['lapses', ...stored]]),
    );
    db.close();

    server = await startServerProcess(args);
    const after = await clients(server);
    expect([...after.keys()]).toEqual(['stays']);
  });
});
