/**
 * Observations survive kill -9: the real CLI in a child process on a fixed CoAP port, a real
 * UDP device that keeps notifying with the token it was given, and after the restart its
 * notifications are still accepted (ACKed, not reset) and reach the event stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freeUdpPort, startServerProcess } from '../helpers/cli-process.js';
import { openEventStream } from '../helpers/sse.js';
import { bindUdpTransport } from '../../src/coap/udp-transport.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { encodeUint } from '../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, CoapResetError, type RemoteAddress } from '../../src/coap/types.js';
import { SQLITE_FILE_NAME } from '../../src/store/sqlite/sqlite-store.js';

/** A port nobody uses now, so both server processes can be given the same one. */
/**
 * Waits until the server's database holds what the kill must not lose: the registration goes
 * through a write-behind, so a fixed sleep would make the test depend on the machine's load.
 */
async function waitForRows(dataDir: string, checks: Array<{ sql: string; params: unknown[] }>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true, fileMustExist: true });
    try {
      const counts = checks.map(({ sql, params }) => (db.prepare(sql).get(...params) as { n: number }).n);
      if (counts.every((n) => n > 0)) return;
      if (Date.now() > deadline) throw new Error(`not stored within ${ms} ms: ${checks.map((c, i) => `${c.sql} → ${counts[i]}`).join('; ')}`);
    } finally {
      db.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('restart keeps observations (kill -9, SQLite)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('routes a notification of an observation made before the restart, and ACKs it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-restart-obs-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const coapPort = await freeUdpPort();
    const args = ['--coap-port', String(coapPort), '--data-dir', dataDir, '--log-level', 'warn'];
    let server = await startServerProcess(args);
    cleanups.push(async () => void (await server.stop('SIGKILL')));

    // The device: answers GET /3/0/9 (battery level) with Observe and remembers the observer.
    const device = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }) });
    cleanups.push(() => device.close());
    let observer: { remote: RemoteAddress; token: Buffer } | undefined;
    let sequence = 1;
    const battery = (value: string) => ({
      code: CoapCode.Content,
      payload: Buffer.from(value),
      contentFormat: 0,
      options: [{ number: CoapOptionNumber.Observe, value: encodeUint(sequence++) }],
    });
    device.setRequestHandler((req) => {
      if (req.method === 'GET' && req.path.join('/') === '3/0/9' && req.observe === 0) {
        observer = { remote: req.remote, token: req.message.token };
        return battery('80');
      }
      return { code: CoapCode.NotFound };
    });
    const serverAddress = { address: '127.0.0.1', port: coapPort };
    const registered = await device.request(serverAddress, {
      method: 'POST',
      path: ['rd'],
      query: ['ep=obs-dev', 'lt=600', 'lwm2m=1.1', 'b=U'],
      payload: Buffer.from('</3/0>'),
      contentFormat: 40,
    });
    expect(registered.code).toBe(CoapCode.Created);

    const observed = await fetch(`http://127.0.0.1:${server.httpPort}/api/clients/obs-dev/3/0/9/observe?format=TEXT&timeout=5`, { method: 'POST' });
    expect(observed.status).toBe(200);
    const body = (await observed.json()) as { content: unknown; observationId: string };
    expect(body.content).toEqual({ id: 9, kind: 'singleResource', type: 'INTEGER', value: '80' });
    expect(observer).toBeDefined();
    expect(observer!.remote).toEqual(serverAddress);
    expect(body.observationId).toBe(observer!.token.toString('hex'));

    await waitForRows(dataDir, [
      { sql: "SELECT count(*) AS n FROM registration_log, json_each(entries) WHERE value ->> 0 = 'obs-dev'", params: [] },
      { sql: 'SELECT count(*) AS n FROM observations WHERE id = ?', params: [body.observationId] },
    ]);
    expect(await server.stop('SIGKILL')).toBe(null);
    expect(server.child.signalCode).toBe('SIGKILL');

    server = await startServerProcess(args);
    expect(server.coapPort).toBe(coapPort);
    const events = await openEventStream(`http://127.0.0.1:${server.httpPort}/api/events?ep=obs-dev`);
    cleanups.push(() => events.close());

    // Confirmable, with the old token, from the same port: the promise resolves on the ACK and
    // rejects with CoapResetError on a RST.
    await device.notify(observer!.remote, observer!.token, battery('42'), { confirmable: true });
    const notification = await events.next('NOTIFICATION', 5000);
    expect(notification).toEqual({ ep: 'obs-dev', kind: 'single', res: '/3/0/9', val: { id: 9, kind: 'singleResource', type: 'INTEGER', value: '42' } });

    // A token the server never gave out is still reset.
    await expect(device.notify(observer!.remote, Buffer.from('0badc0de', 'hex'), battery('1'), { confirmable: true })).rejects.toBeInstanceOf(CoapResetError);
  });
});
