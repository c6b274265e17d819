/**
 * Requests queued for a sleeping device survive kill -9: the real CLI in a child process on a
 * fixed CoAP port, a real UDP queue-mode device, a PUT queued over HTTP, the server killed, and
 * on the device's next registration update the restarted server sends it the PUT. The HTTP
 * caller died with the first process, so the outcome shows as QUEUED_REQUEST on /api/events.
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
import { CoapCode, CoapOptionNumber, type IncomingRequest } from '../../src/coap/types.js';
import { SQLITE_FILE_NAME } from '../../src/store/sqlite/sqlite-store.js';

/** A port nobody uses now, so both server processes can be given the same one. */
function query<T>(dataDir: string, sql: string): T[] {
  const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Polls the server's database: the registration write-behind makes a fixed sleep load-dependent. */
async function waitUntil<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('restart keeps requests queued for sleeping devices (kill -9, SQLite)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('sends a PUT queued before the kill when the device next updates, and reports it as QUEUED_REQUEST', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-restart-queue-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const coapPort = await freeUdpPort();
    // Awake for 1 s after each message, so the device is soon asleep and the PUT has to wait.
    const args = ['--coap-port', String(coapPort), '--data-dir', dataDir, '--log-level', 'warn', '--queue-awake-time', '1'];
    let server = await startServerProcess(args);
    cleanups.push(async () => void (await server.stop('SIGKILL')));

    const device = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }) });
    cleanups.push(() => device.close());
    // Only the writes of /3/0/14 (UTC offset) are this test's: other parts of the server (the
    // rollout's inventory) may read the device when it registers, and get 4.04.
    const received: IncomingRequest[] = [];
    device.setRequestHandler((req) => {
      if (req.path.join('/') !== '3/0/14') return { code: CoapCode.NotFound };
      received.push(req);
      return { code: CoapCode.Changed };
    });
    const serverAddress = { address: '127.0.0.1', port: coapPort };
    const registered = await device.request(serverAddress, {
      method: 'POST',
      path: ['rd'],
      query: ['ep=q-dev', 'lt=600', 'lwm2m=1.1', 'b=U', 'Q'],
      payload: Buffer.from('</3/0>'),
      contentFormat: 40,
    });
    expect(registered.code).toBe(CoapCode.Created);
    const location = registered.message.options.filter((o) => o.number === CoapOptionNumber.LocationPath).map((o) => o.value.toString('utf8'));
    expect(location[0]).toBe('rd');

    const firstEvents = await openEventStream(`http://127.0.0.1:${server.httpPort}/api/events?ep=q-dev`);
    cleanups.push(() => firstEvents.close());
    expect(await firstEvents.next('SLEEPING', 5000)).toEqual({ ep: 'q-dev' });

    // Queued with a 10 minute timeout; this HTTP call dies with the first process.
    const write = fetch(`http://127.0.0.1:${server.httpPort}/api/clients/q-dev/3/0/14?format=TEXT&timeout=600`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 14, kind: 'singleResource', type: 'STRING', value: '+02:00' }),
    }).then(
      (response) => `answered ${response.status}`,
      () => 'connection lost',
    );
    const stored = await waitUntil('the queued PUT in the database', () => {
      const rows = query<{ endpoint: string; data: string }>(dataDir, 'SELECT endpoint, data FROM queued_requests');
      return rows.length > 0 ? rows : undefined;
    });
    expect(stored.map((row) => row.endpoint)).toEqual(['q-dev']);
    const description = JSON.parse(stored[0].data) as { kind: string; target: string; queuedAt: number; deadline: number; request: { method: string; path: string[]; contentFormat: number } };
    expect(description.kind).toBe('request');
    expect(description.target).toBe('/3/0/14');
    expect(description.deadline - description.queuedAt).toBe(600_000);
    expect(description.request.method).toBe('PUT');
    expect(description.request.path).toEqual(['3', '0', '14']);
    expect(description.request.contentFormat).toBe(0);
    await waitUntil('the registration in the database', () =>
      query(dataDir, "SELECT value FROM registration_log, json_each(entries) WHERE value ->> 0 = 'q-dev'").length > 0 ? true : undefined,
    );
    expect(received).toEqual([]);

    firstEvents.close();
    expect(await server.stop('SIGKILL')).toBe(null);
    expect(await write).toBe('connection lost');

    server = await startServerProcess(args);
    expect(server.coapPort).toBe(coapPort);
    const events = await openEventStream(`http://127.0.0.1:${server.httpPort}/api/events?ep=q-dev`);
    cleanups.push(() => events.close());
    expect(received).toEqual([]);

    // The device wakes: a registration update on the registration made before the kill.
    const update = await device.request(serverAddress, { method: 'POST', path: location });
    expect(update.code).toBe(CoapCode.Changed);
    const completed = await events.next('QUEUED_REQUEST', 5000);
    expect(completed).toEqual({
      ep: 'q-dev',
      endpoint: 'q-dev',
      path: '/3/0/14',
      method: 'PUT',
      outcome: 'answered',
      code: '2.04',
      queuedAt: description.queuedAt,
    });
    expect(received.map((req) => [req.method, req.path, req.contentFormat, req.payload.toString('utf8')])).toEqual([['PUT', ['3', '0', '14'], 0, '+02:00']]);
    expect(received[0].remote).toEqual(serverAddress);

    // Sent once, so forgotten by the store; its outcome is in the audit log.
    expect(query(dataDir, 'SELECT seq FROM queued_requests')).toEqual([]);
    const audit = await waitUntil('the audit entry', () => {
      const rows = query<{ data: string }>(dataDir, "SELECT data FROM audit_log WHERE subject = 'q-dev'");
      return rows.length > 0 ? rows.map((row) => JSON.parse(row.data) as Record<string, unknown>) : undefined;
    });
    expect(audit).toEqual([
      {
        at: expect.any(Number),
        actor: 'system',
        action: 'queuedRequest.completed',
        subject: 'q-dev',
        detail: { path: '/3/0/14', method: 'PUT', outcome: 'answered', code: '2.04', queuedAt: description.queuedAt },
      },
    ]);
  });
});
