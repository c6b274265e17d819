import { describe, it, expect, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createHarness, type Harness } from './harness.js';

let h: Harness;

afterEach(async () => {
  await h.close();
});

describe('GET /api/objectspecs', () => {
  it('lists every object of the model with its resources', async () => {
    h = createHarness();
    const res = await h.app.inject({ method: 'GET', url: '/api/objectspecs' });
    expect(res.statusCode).toBe(200);
    const specs = res.json() as { id: number }[];
    expect(specs.map((s) => s.id)).toEqual([1, 3, 9990]);
    expect(specs[0]).toEqual({
      id: 1,
      name: 'LwM2M Server',
      version: '1.1',
      lwm2mversion: '1.1',
      urn: 'urn:oma:lwm2m:oma:1:1.1',
      multiple: true,
      instancetype: 'multiple',
      mandatory: true,
      description: null,
      resources: [
        { id: 0, name: 'Short Server ID', operations: 'R', type: 'integer', leshanType: 'INTEGER', multiple: false, instancetype: 'single', mandatory: true, range: '1..65534', units: null, description: null },
        { id: 1, name: 'Lifetime', operations: 'RW', type: 'integer', leshanType: 'INTEGER', multiple: false, instancetype: 'single', mandatory: true, range: null, units: 's', description: null },
        { id: 6, name: 'Notification Storing When Disabled or Offline', operations: 'RW', type: 'boolean', leshanType: 'BOOLEAN', multiple: false, instancetype: 'single', mandatory: true, range: null, units: null, description: null },
        { id: 7, name: 'Binding', operations: 'RW', type: 'string', leshanType: 'STRING', multiple: false, instancetype: 'single', mandatory: true, range: null, units: null, description: null },
        { id: 8, name: 'Registration Update Trigger', operations: 'E', type: 'none', leshanType: 'NONE', multiple: false, instancetype: 'single', mandatory: true, range: null, units: null, description: null },
      ],
    });
  });

  it('shows one object; 404 for an unknown one; 400 for a bad id', async () => {
    h = createHarness();
    const one = await h.app.inject({ method: 'GET', url: '/api/objectspecs/3' });
    expect(one.json()).toMatchObject({ id: 3, name: 'Device', multiple: false, instancetype: 'single', mandatory: true });
    expect(one.json().resources[1]).toEqual({
      id: 1, name: 'Model Number', operations: 'R', type: 'string', leshanType: 'STRING', multiple: false, instancetype: 'single', mandatory: false, range: null, units: null, description: null,
    });
    const unknown = await h.app.inject({ method: 'GET', url: '/api/objectspecs/42' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'unknown object', detail: 'object 42 is not in the object model' });
    const bad = await h.app.inject({ method: 'GET', url: '/api/objectspecs/x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'bad path', detail: 'object id "x" is not an integer 0..65535' });
  });
});

describe('GET /api/server', () => {
  it('answers version, uptime, registration count and memory; collects first with ?gc=true when gc is exposed', async () => {
    h = createHarness();
    await h.register('a');
    await h.register('b');
    const res = await h.app.inject({ method: 'GET', url: '/api/server' });
    const body = res.json();
    expect(body).toEqual({
      version: '1.2.3',
      uptimeSec: 0,
      registrations: 2,
      memory: { heapUsed: expect.any(Number), rss: expect.any(Number) },
      gcCollected: false,
    });
    expect(body.memory.heapUsed).toBeGreaterThan(1_000_000);
    expect(body.memory.rss).toBeGreaterThan(body.memory.heapUsed);

    const holder = globalThis as { gc?: () => void };
    const original = holder.gc;
    let collections = 0;
    holder.gc = () => {
      collections++;
    };
    try {
      const collected = await h.app.inject({ method: 'GET', url: '/api/server?gc=true' });
      expect(collected.json().gcCollected).toBe(true);
      expect(collections).toBe(1);
    } finally {
      holder.gc = original;
    }
  });
});

describe('logging', () => {
  it('logs every error once with its status, and nothing at info for a successful request', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    h = createHarness({ logger: pino({ level: 'info' }, sink) });
    await h.register('dev1');
    await h.app.inject({ method: 'GET', url: '/api/clients' });
    await h.app.inject({ method: 'GET', url: '/api/clients/ghost' });
    await h.app.inject({ method: 'GET', url: '/api/nowhere' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => ({ level: l.level, msg: l.msg, status: l.status, url: l.url }))).toEqual([
      { level: 40, msg: 'http request failed: unknown device', status: 404, url: '/api/clients/ghost' },
      { level: 40, msg: 'http request failed: no such route', status: 404, url: '/api/nowhere' },
    ]);
  });
});
