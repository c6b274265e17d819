import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Fleet, type FleetMilestone } from '../../../simulators/fleet.js';
import { isRegister, startPeer, type TestPeer } from './peer.js';

describe('Fleet', () => {
  let peer: TestPeer;
  beforeEach(async () => {
    peer = await startPeer();
  });
  afterEach(async () => {
    await peer.close();
  });

  it('registers every device under distinct names, then deregisters them all', async () => {
    const milestones: FleetMilestone[] = [];
    let allRegistered: () => void = () => {};
    const registered = new Promise<void>((resolve) => (allRegistered = resolve));
    const fleet = new Fleet({ serverUri: peer.uri, count: 12, prefix: 'fl-', startRatePerSec: 1000 }, (m) => {
      milestones.push(m);
      if (m.msg === 'all registered') allRegistered();
    });
    await fleet.start();
    await registered;
    const names = peer.requests.filter(isRegister).map((r) => r.query[0]);
    expect(new Set(names).size).toBe(12);
    expect(names).toContain('ep=fl-00');
    expect(names).toContain('ep=fl-11');
    await fleet.stop();
    expect(peer.requests.filter((r) => r.method === 'DELETE')).toHaveLength(12);
    expect(milestones.map((m) => m.msg)).toEqual(['started', 'all registered', 'stopped']);
    expect(milestones[1]).toMatchObject({ count: 12 });
    expect(milestones[2]).toMatchObject({ deregistered: 12 });
  });

  it('the CLI prints its milestones and deregisters everyone on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'simulators/cli.ts', '--server', peer.uri, '--devices', '3', '--prefix', 'cli-', '--start-rate', '100/s'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines: Array<Record<string, unknown>> = [];
    const reader = createInterface({ input: child.stdout });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) =>
      reader.on('line', (line) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
        if (lines.at(-1)?.msg === 'all registered') resolve();
      }),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(['started', 'all registered', 'stopping', 'stopped']);
    expect(lines[1].count).toBe(3);
    expect(peer.requests.filter((r) => r.method === 'DELETE')).toHaveLength(3);
  });
});
