/**
 * A rollout over the whole stack: an operator uploads an image and runs a campaign over
 * HTTP against simulated devices that report when they may be disturbed (object 26250);
 * the real scheduler drives the real Object 5 delivery over CoAP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { api, startTestServer, uploadFirmware, type TestServer } from '../helpers/in-process-server.js';
import { openEventStream } from '../helpers/sse.js';
import { runCli } from '../helpers/cli-process.js';
import { until } from '../helpers/until.js';

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

describe('rollout campaigns over HTTP and CoAP', () => {
  let server: TestServer;
  const devices: SimulatedDevice[] = [];
  let imageId: string;

  beforeAll(async () => {
    // Ten times faster: the scheduler ticks every 100 ms of real time.
    server = await startTestServer({ timeScale: 10, store: 'memory' });
    for (let i = 0; i < 6; i++) {
      const device = new SimulatedDevice({
        serverUri: server.coapUri,
        endpointName: `ro-${i}`,
        lifetimeSec: 300,
        retryDelayMs: 0,
        rebootDelayMs: 20,
        firmwareVersion: '1.0.0',
        discretion: { batteryPercent: 80 },
      });
      devices.push(device);
      await device.register();
    }
    const image = buildSimImage({ name: 'app', version: '2.0.0', payload: randomBytes(8 * 1024) });
    imageId = await uploadFirmware(server.baseUrl, image, { name: 'app', version: '2.0.0', deviceType: 'sensor' });
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await server?.close();
  });

  it('refuses bad plans, cron errors and unknown images with 400/404 and the reason', async () => {
    const tooMuch = await api(server, 'POST', '/api/campaigns', { firmwareId: imageId, plan: { stages: [{ percent: 70 }, { percent: 40 }] } });
    expect(tooMuch).toEqual({ status: 400, body: { error: 'invalid campaign', detail: 'plan.stages add up to 110% of the population, more than 100%' } });
    const cron = await api(server, 'POST', '/api/campaigns', { firmwareId: imageId, limits: { maintenanceWindows: ['61 * * * *'] } });
    expect(cron.status).toBe(400);
    expect(cron.body.detail).toBe('limits.maintenanceWindows[0]: "61 * * * *": minute "61" is outside 0-59');
    const unknown = await api(server, 'POST', '/api/campaigns', { firmwareId: 'nope' });
    expect(unknown.status).toBe(404);
    const empty = await api(server, 'POST', '/api/campaigns', {});
    expect(empty.status).toBe(400);
  });

  it('dry run sizes the stages for the current population without creating anything', async () => {
    const dry = await api(server, 'POST', '/api/campaigns?dryRun=true', { firmwareId: imageId, plan: { canary: { count: 1 }, stages: [{ percent: 50 }, { remaining: true }] } });
    expect(dry).toEqual({ status: 200, body: { population: 6, stages: [{ name: 'canary', size: 1 }, { name: 'stage 1', size: 3 }, { name: 'stage 2', size: 2 }] } });
    expect((await api(server, 'GET', '/api/campaigns')).body).toEqual([]);
  });

  it('runs canary then stages; a busy device gets nothing until it is idle; every device ends on 2.0.0', async () => {
    const busy = devices[5];
    busy.discretion!.setBusy('driving');
    const packageWrites: string[] = [];
    busy.on('requestReceived', (r) => {
      if (r.path.startsWith('/5/0/0') || r.path.startsWith('/5/0/1')) packageWrites.push(r.path);
    });
    const created = await api(server, 'POST', '/api/campaigns', {
      firmwareId: imageId,
      plan: { canary: { endpoints: ['ro-0'], soakSec: 1 }, stages: [{ name: 'half', percent: 50, soakSec: 2 }, { name: 'rest', remaining: true }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body.stages.map((s: any) => [s.name, s.size, s.state])).toEqual([['canary', 1, 'planned'], ['half', 3, 'planned'], ['rest', 2, 'planned']]);
    const second = await api(server, 'POST', '/api/campaigns', { firmwareId: imageId, target: { endpoints: ['ro-1'] } });
    expect(second.status).toBe(409);
    expect(second.body.devices).toEqual(['ro-1']);

    const events = await openEventStream(`${server.baseUrl}/api/events`);
    expect((await api(server, 'POST', `/api/campaigns/${id}/start`)).body.state).toBe('running');
    // Operators watching /api/events see the campaign start and its canary stage open.
    expect((await events.next('CAMPAIGN', 5000)).campaignId).toBe(id);
    expect((await events.next('STAGE', 5000)).campaignId).toBe(id);
    events.close();
    // The busy device holds its stage open: the others of its stage finish, it waits.
    const waiting = await until('the busy device to be the only one left in its stage', async () => {
      const { body } = await api(server, 'GET', `/api/campaigns/${id}`);
      const stage = body.stages.find((x: any) => x.waitingForWindow === 1);
      return stage && stage.succeeded === stage.size - 1 ? body : undefined;
    });
    const stageOfBusy = waiting.stages.find((s: any) => s.waitingForWindow === 1);
    expect(stageOfBusy.reasons.waiting).toEqual([{ reason: 'busy: driving', devices: 1 }]);
    expect(packageWrites).toEqual([]);
    expect(busy.firmware.running.version).toBe('1.0.0');
    const listed = await api(server, 'GET', `/api/campaigns/${id}/devices?state=waiting`);
    expect(listed.body).toMatchObject({ total: 1, devices: [{ endpoint: 'ro-5', state: 'waiting', reason: 'busy: driving' }] });

    busy.discretion!.setIdle();
    const done = await until('the campaign to complete', async () => {
      const { body } = await api(server, 'GET', `/api/campaigns/${id}`);
      return body.state === 'completed' ? body : undefined;
    });
    expect(done.devices.succeeded).toBe(6);
    const canary = done.stages[0];
    expect(new Date(done.stages[1].openedAt).getTime()).toBeGreaterThanOrEqual(new Date(canary.drainedAt).getTime() + 1000);
    for (const device of devices) expect(device.firmware.running.version).toBe('2.0.0');
  });

  it('the CLI lists campaigns, shows their stages and refuses what the API refuses', async () => {
    const list = await cli(['campaign', 'list', '--server', server.baseUrl]);
    expect(list.code).toBe(0);
    const [id] = list.stdout.trim().split(/\s+/);
    expect(id).toMatch(/^c-[0-9a-f]{12}$/);
    const status = await cli(['campaign', 'status', id, '--server', server.baseUrl]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/completed/);
    expect(status.stdout.split('\n').filter((line) => /^  (canary|half|rest) /.test(line))).toHaveLength(3);
    const bad = await cli(['campaign', 'create', '--firmware', imageId, '--plan', '{"stages":[{"percent":101}]}', '--server', server.baseUrl]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('400 invalid campaign: plan.stages[0].percent must be a number in (0, 100], got 101');
  });
});
