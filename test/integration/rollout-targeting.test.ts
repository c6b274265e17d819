/**
 * Campaign targets by tags and security profile on the live server: operators tag devices
 * over HTTP (PUT /api/clients/{ep}/tags) and pair them with profiles; a campaign's
 * `target: {"tags": […], "profiles": […]}` then takes exactly the registered devices that
 * match, and only they are sent the image.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { api, startTestServer, uploadFirmware, type TestServer } from '../helpers/in-process-server.js';
import { until } from '../helpers/until.js';

const ONE_STAGE = { stages: [{ name: 'all', remaining: true, soakSec: 0 }] };

describe('campaign targets by tags and profiles', () => {
  let server: TestServer;
  const devices: SimulatedDevice[] = [];
  /** Firmware writes (/5/0/0 push, /5/0/1 package URI) each device was sent. */
  const firmwareWrites = new Map<string, number>();
  let imageId: string;

  beforeAll(async () => {
    server = await startTestServer({ timeScale: 10, store: 'sqlite' });
    for (let i = 0; i < 7; i++) {
      const device = new SimulatedDevice({
        serverUri: server.coapUri,
        endpointName: `tg-${i}`,
        lifetimeSec: 300,
        retryDelayMs: 0,
        rebootDelayMs: 20,
        firmwareVersion: '1.0.0',
      });
      firmwareWrites.set(device.endpointName, 0);
      device.on('requestReceived', (r) => {
        if (r.path.startsWith('/5/0/0') || r.path.startsWith('/5/0/1')) firmwareWrites.set(device.endpointName, firmwareWrites.get(device.endpointName)! + 1);
      });
      devices.push(device);
      await device.register();
    }
    const image = buildSimImage({ name: 'app', version: '2.0.0', payload: randomBytes(4 * 1024) });
    imageId = await uploadFirmware(server.baseUrl, image, { name: 'app', version: '2.0.0', deviceType: 'sensor' });
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await server?.close();
  });

  it('tags are set and read over HTTP, for registered devices and others; bad ones get 400 with the reason', async () => {
    const tagged: Array<[string, string[]]> = [
      ['tg-0', ['eu', 'pilot']],
      ['tg-1', ['eu', 'pilot']],
      ['tg-2', ['pilot', 'eu', 'batch:7']],
      ['tg-3', ['eu']],
      ['tg-4', ['us', 'pilot']],
      // Not registered (yet): tagged all the same, and never part of a population.
      ['ghost', ['eu', 'pilot']],
    ];
    for (const [ep, tags] of tagged) expect(await api(server, 'PUT', `/api/clients/${ep}/tags`, { tags })).toEqual({ status: 200, body: { tags } });
    expect(await api(server, 'GET', '/api/clients/tg-2/tags')).toEqual({ status: 200, body: { tags: ['pilot', 'eu', 'batch:7'] } });
    expect(await api(server, 'GET', '/api/clients/tg-6/tags')).toEqual({ status: 200, body: { tags: [] } });
    expect(await api(server, 'GET', '/api/clients/ghost/tags')).toEqual({ status: 200, body: { tags: ['eu', 'pilot'] } });

    const bad = await api(server, 'PUT', '/api/clients/tg-5/tags', { tags: ['eu west'] });
    expect(bad).toEqual({ status: 400, body: { error: 'invalid tags', detail: 'tags[0] "eu west" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -' } });
    expect((await api(server, 'PUT', '/api/clients/tg-5/tags', { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })).body.detail).toBe('at most 32 tags, got 33');
    expect((await api(server, 'PUT', '/api/clients/tg-5/tags', { tags: 'eu' })).body.detail).toBe('"tags" must be an array of strings');
    expect((await api(server, 'PUT', '/api/clients/tg-5/tags', { tags: ['a'.repeat(65)] })).status).toBe(400);
    expect(await api(server, 'GET', '/api/clients/tg-5/tags')).toEqual({ status: 200, body: { tags: [] } });
  });

  it('dry runs size the populations of tags, profiles and both exactly', async () => {
    // Profiles come from the pairing: tg-4 and tg-5 are assigned the tier-1 profile.
    for (const ep of ['tg-4', 'tg-5']) expect((await api(server, 'PUT', `/api/clients/${ep}/profile`, { profile: 'tier-1-psk' })).status).toBe(200);
    const size = async (target: Record<string, unknown>): Promise<unknown> => (await api(server, 'POST', '/api/campaigns?dryRun=true', { firmwareId: imageId, target, plan: ONE_STAGE })).body;
    expect(await size({ tags: ['eu', 'pilot'] })).toEqual({ population: 3, stages: [{ name: 'all', size: 3 }] });
    expect(await size({ tags: ['pilot'] })).toEqual({ population: 4, stages: [{ name: 'all', size: 4 }] });
    expect(await size({ tags: ['eu'] })).toEqual({ population: 4, stages: [{ name: 'all', size: 4 }] });
    expect(await size({ profiles: ['tier-1-psk'] })).toEqual({ population: 2, stages: [{ name: 'all', size: 2 }] });
    expect(await size({ tags: ['pilot'], profiles: ['tier-1-psk'] })).toEqual({ population: 1, stages: [{ name: 'all', size: 1 }] });
    expect(await size({ profiles: ['tier-2-x509'] })).toEqual({ population: 0, stages: [{ name: 'all', size: 0 }] });
    expect(await size({})).toEqual({ population: 7, stages: [{ name: 'all', size: 7 }] });
    expect((await api(server, 'GET', '/api/campaigns')).body).toEqual([]);
  });

  it('a campaign for tags ["eu","pilot"] updates exactly tg-0, tg-1 and tg-2 and sends nothing to the others', async () => {
    const created = await api(server, 'POST', '/api/campaigns', { firmwareId: imageId, target: { tags: ['eu', 'pilot'] }, plan: ONE_STAGE });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body.population).toBe(3);
    expect((await api(server, 'POST', `/api/campaigns/${id}/start`)).body.state).toBe('running');
    const done = await until('the campaign to complete', async () => {
      const { body } = await api(server, 'GET', `/api/campaigns/${id}`);
      return body.state === 'completed' ? body : undefined;
    });
    expect(done.devices.succeeded).toBe(3);
    const members = await api(server, 'GET', `/api/campaigns/${id}/devices`);
    expect(members.body.devices.map((d: { endpoint: string }) => d.endpoint).sort()).toEqual(['tg-0', 'tg-1', 'tg-2']);
    for (const device of devices) {
      const member = ['tg-0', 'tg-1', 'tg-2'].includes(device.endpointName);
      expect([device.endpointName, device.firmware.running.version]).toEqual([device.endpointName, member ? '2.0.0' : '1.0.0']);
      if (member) expect(firmwareWrites.get(device.endpointName)).toBeGreaterThan(0);
      else expect([device.endpointName, firmwareWrites.get(device.endpointName)]).toEqual([device.endpointName, 0]);
    }
  });
});
