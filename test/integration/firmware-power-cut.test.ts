/**
 * Power cuts, for real: the simulated device runs as its own process with its slots on
 * disk, and is killed (SIGKILL) mid-pull at a random block, mid-push, once the package is
 * downloaded, and while it installs; then started again on the same state. It must always
 * boot a valid image, and the server's record of the delivery must match what it reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli-process.js';
import { startFirmwareHarness, type FirmwareHarness } from '../unit/firmware-delivery/harness.js';
import { verifyImage } from '../../simulators/device/firmware/image-format.js';
import type { FirmwareDiskState } from '../../simulators/device/firmware/slot-store.js';
import type { DeliveryRecord } from '../../src/firmware/delivery/delivery-record.js';
import { untilTrue } from '../helpers/until.js';

interface DeviceProcess {
  child: ChildProcess;
  registered: Promise<void>;
}

function startDevice(serverUri: string, endpoint: string, stateDir: string, behaviour: Record<string, unknown>): DeviceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(repoRoot, 'simulators/device/firmware/run-device.ts'), serverUri, endpoint, stateDir, JSON.stringify(behaviour)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const registered = new Promise<void>((resolveRegistered) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"registered"')) resolveRegistered();
    });
  });
  return { child, registered };
}

function kill(device: DeviceProcess): Promise<void> {
  return new Promise((resolveKill) => {
    device.child.once('exit', () => resolveKill());
    device.child.kill('SIGKILL');
  });
}

function disk(stateDir: string): FirmwareDiskState | undefined {
  const file = join(stateDir, 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FirmwareDiskState) : undefined;
}

describe('power cut at every firmware state, with the device as a real process', () => {
  let h: FirmwareHarness;
  let image: Buffer;
  let imageId: string;
  const dirs: string[] = [];
  const children: DeviceProcess[] = [];

  beforeAll(async () => {
    h = await startFirmwareHarness({ policy: { requestTimeoutMs: 2000, transferTimeoutMs: 10_000, updatingTimeoutMs: 10_000 } });
    image = h.image('5.0.0', 96 * 1024);
    imageId = await h.upload(image, '5.0.0');
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => (c.child.exitCode === null && c.child.signalCode === null ? kill(c) : undefined)));
    await h?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<{ name: string; method: 'push' | 'pull'; behaviour: Record<string, unknown>; resumes?: boolean; cutWhen: (dir: string, record: () => Promise<DeliveryRecord | undefined>) => Promise<boolean> }> = [
    {
      name: 'mid-pull at a random block',
      method: 'pull',
      behaviour: { pullBlockSzx: 4 },
      resumes: true,
      cutWhen: async (dir) => {
        const target = 20_000 + Math.floor(Math.random() * 60_000);
        return disk(dir)?.state === 1 && existsSync(join(dir, 'slot-1.bin')) && readFileSync(join(dir, 'slot-1.bin')).length >= target;
      },
    },
    {
      name: 'mid-push',
      method: 'push',
      behaviour: { blockSzx: 4 },
      cutWhen: async (_dir, record) => {
        const r = await record();
        return r !== undefined && r.bytes > 30_000;
      },
    },
    {
      name: 'once downloaded (State 2)',
      method: 'pull',
      behaviour: { deferUpdates: 1, maxDeferPeriodSec: 3 },
      cutWhen: async (dir) => disk(dir)?.state === 2,
    },
    {
      name: 'while installing (State 3)',
      method: 'push',
      behaviour: { installMs: 1500 },
      cutWhen: async (dir) => disk(dir)?.state === 3,
    },
  ];

  it.each(cases)('$name: boots a valid image and the server agrees', async ({ method, behaviour, resumes, cutWhen }) => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-cut-'));
    dirs.push(dir);
    const endpoint = `cut-${method}-${dirs.length}`;
    const first = startDevice(h.coapUri, endpoint, dir, behaviour);
    children.push(first);
    await first.registered;
    const started = await h.firmware.deliveries.start(endpoint, imageId, method);
    await untilTrue('the cut point', () => cutWhen(dir, () => h.firmware.deliveries.get(started.id)), 10_000);
    await kill(first);

    // Whatever the cut hit, the flash holds a bootable image in the active slot.
    const cut = disk(dir)!;
    expect(cut.slots[cut.active]).not.toBeNull();

    const second = startDevice(h.coapUri, endpoint, dir, { ...behaviour, deferUpdates: 0 });
    children.push(second);
    await second.registered;
    const record = await h.firmware.deliveries.whenFinished(started.id);
    await untilTrue('the device to settle', () => disk(dir)?.state === 0, 5000);
    const after = disk(dir)!;
    const running = after.slots[after.active]!;
    if (after.active === 1) expect(verifyImage(readFileSync(join(dir, 'slot-1.bin'))).ok).toBe(true);
    // The server's record matches what the device runs and reports.
    if (record.state === 'succeeded') {
      expect(running.version).toBe('5.0.0');
      expect(after.result).toBe(1);
    } else {
      expect(running.version).toBe('1.0.0');
      expect(record.result ?? after.result).toBe(after.result);
    }
    expect(record.state).toBe('succeeded');
    // A pull cut mid-way resumes from its last block: no second transfer attempt was needed.
    if (resumes) expect(record.attempts).toBe(1);
    await kill(second);
  }, 30_000);
});
