import { describe, expect, it } from 'vitest';
import { DeviceDiscretion } from '../../../simulators/device/objects/discretion.js';
import { ManualClock } from '../../../src/util/clock.js';

describe('DeviceDiscretion.whenIdle (what pauses a simulated device\'s firmware pull)', () => {
  it('answers nothing while the device is idle', () => {
    expect(new DeviceDiscretion(new ManualClock()).whenIdle()).toBeUndefined();
  });

  it('settles when a test turns the busy device idle', async () => {
    const discretion = new DeviceDiscretion(new ManualClock());
    discretion.setBusy('driving');
    let settled = false;
    const waiting = discretion.whenIdle()!.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    discretion.setIdle();
    await waiting;
    expect(settled).toBe(true);
  });

  it('settles when the busy phase of its schedule ends, found by checking the clock', async () => {
    const clock = new ManualClock(0);
    const discretion = new DeviceDiscretion(clock, { cycle: { busyMs: 1000, idleMs: 1000 } });
    let settled = false;
    const waiting = discretion.whenIdle(250)!.then(() => (settled = true));
    clock.advance(750);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(250);
    await waiting;
    expect(settled).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});
