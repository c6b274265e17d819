/**
 * Crash safety of a campaign: the real CLI in a child process on real SQLite, simulated
 * devices over real UDP, kill -9 at random moments of an accelerated campaign, 20 times.
 * After every restart the stages keep their sizes and members; at the end every device
 * runs the new image, and no device that already had it was sent it again.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { freeUdpPort, startServerProcess, tempDataDir, type ServerProcess } from '../helpers/cli-process.js';

const KILLS = 20;
const TARGET = '2.0.0';

async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('rollout crash safety (kill -9, SQLite, child process)', () => {
  const dataDir = tempDataDir();
  const devices: SimulatedDevice[] = [];
  let server: ServerProcess | undefined;

  afterAll(async () => {
    // Devices first, while the server still answers their de-registration.
    await Promise.all(devices.map((d) => d.stop()));
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(`keeps stages, members and single delivery across ${KILLS} kill -9 restarts`, async () => {
    const coapPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const args = ['--data-dir', dataDir, '--coap-port', String(coapPort), '--http-port', String(httpPort), '--store', 'sqlite', '--time-scale', '10', '--log-level', 'warn'];
    const start = async (): Promise<ServerProcess> => startServerProcess(args);
    server = await start();
    const base = `http://127.0.0.1:${httpPort}`;
    const api = async (method: string, path: string, body?: unknown): Promise<any> => {
      const response = await fetch(`${base}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };

    // Every time a device that already runs the new image is sent it again, it is noted here.
    const resent: string[] = [];
    for (let i = 0; i < 8; i++) {
      const device = new SimulatedDevice({ serverUri: `coap://127.0.0.1:${coapPort}`, endpointName: `crash-${i}`, lifetimeSec: 600, retryDelayMs: 200, rebootDelayMs: 20, firmwareVersion: '1.0.0', discretion: {} });
      device.on('requestReceived', (r) => {
        const writesImage = (r.method === 'PUT' || r.method === 'POST') && (r.path === '/5/0/0' || r.path === '/5/0/2');
        if (writesImage && device.firmware.running.version === TARGET) resent.push(`${device.endpointName} ${r.method} ${r.path}`);
      });
      devices.push(device);
      await device.register();
    }
    const image = buildSimImage({ name: 'app', version: TARGET, payload: randomBytes(6 * 1024) });
    const uploaded = await (await fetch(`${base}/api/firmware?name=app&version=${TARGET}&deviceType=sensor`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: image })).json() as { id: string };
    const created = await api('POST', '/api/campaigns', {
      firmwareId: uploaded.id,
      plan: { canary: { count: 1, soakSec: 2 }, stages: [{ count: 3, soakSec: 2 }, { remaining: true, soakSec: 0 }] },
    });
    const id = created.id as string;
    const members = async (): Promise<Record<string, string>> => {
      const { devices: rows } = await api('GET', `/api/campaigns/${id}/devices`);
      return Object.fromEntries((rows as Array<{ endpoint: string; stage: string }>).map((r) => [r.endpoint, r.stage]));
    };
    const drawn = await members();
    expect(Object.keys(drawn)).toHaveLength(8);
    await api('POST', `/api/campaigns/${id}/start`);

    const random = ((seed) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647))(2026);
    for (let kill = 0; kill < KILLS; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(random() * 700)));
      await server.stop('SIGKILL');
      server = await start();
      const after = await api('GET', `/api/campaigns/${id}`);
      expect(after.stages.map((s: any) => s.size)).toEqual([1, 3, 4]);
      expect(await members()).toEqual(drawn);
      for (const stage of after.stages) {
        const counted = ['planned', 'pending', 'waitingForWindow', 'transferring', 'paused', 'updating', 'succeeded', 'failed', 'skipped', 'cancelled'].reduce((n, k) => n + stage[k], 0);
        expect(counted).toBe(stage.size);
      }
      if (after.state === 'completed') break;
    }

    const deadline = Date.now() + 60_000;
    let final: any;
    for (;;) {
      final = await api('GET', `/api/campaigns/${id}`);
      if (final.state === 'completed' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A failure shows the halt reason and each unfinished device's state and reason, not just a count.
    const unfinished = (await api('GET', `/api/campaigns/${id}/devices`)).devices.filter((d: { state: string }) => d.state !== 'succeeded');
    expect({ state: final.state, haltReason: final.haltReason, unfinished }).toEqual({ state: 'completed', haltReason: null, unfinished: [] });
    expect(final.devices.succeeded).toBe(8);
    for (const device of devices) expect(device.firmware.running.version).toBe(TARGET);
    expect(resent).toEqual([]);
  }, 150_000);
});
