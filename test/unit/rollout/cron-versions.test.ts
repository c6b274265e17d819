import { describe, expect, it } from 'vitest';
import { cronMatches, insideMaintenanceWindow, LocalTimeCache, parseCron } from '../../../src/rollout/cron.js';
import { compareVersions, parseVersionRange, versionInRange } from '../../../src/rollout/versions.js';
import { shareBandwidth } from '../../../src/rollout/bandwidth.js';
import { mayStartTransfer } from '../../../src/rollout/discretion.js';

describe('cron maintenance windows', () => {
  it('matches ranges, lists and steps', () => {
    const cron = parseCron('*/15 1-4,22 * * 1-5');
    expect(cronMatches(cron, { minute: 30, hour: 2, day: 6, month: 1, weekday: 2 })).toBe(true);
    expect(cronMatches(cron, { minute: 31, hour: 2, day: 6, month: 1, weekday: 2 })).toBe(false);
    expect(cronMatches(cron, { minute: 0, hour: 22, day: 6, month: 1, weekday: 0 })).toBe(false);
    expect(cronMatches(parseCron('0 0 * * 7'), { minute: 0, hour: 0, day: 4, month: 1, weekday: 0 })).toBe(true);
  });

  it('either restricted day field matches, as in cron', () => {
    const cron = parseCron('* * 1 * 1');
    expect(cronMatches(cron, { minute: 0, hour: 0, day: 1, month: 3, weekday: 4 })).toBe(true);
    expect(cronMatches(cron, { minute: 0, hour: 0, day: 9, month: 3, weekday: 1 })).toBe(true);
    expect(cronMatches(cron, { minute: 0, hour: 0, day: 9, month: 3, weekday: 2 })).toBe(false);
  });

  it('reads the window in the device timezone', () => {
    const windows = [parseCron('* 2-3 * * *')];
    const cache = new LocalTimeCache();
    const at = Date.UTC(2026, 0, 5, 1, 30); // 01:30 UTC = 02:30 in Paris (winter)
    expect(insideMaintenanceWindow(windows, at, 'UTC', cache)).toBe(false);
    expect(insideMaintenanceWindow(windows, at, 'Europe/Paris', cache)).toBe(true);
    expect(insideMaintenanceWindow([], at, 'UTC', cache)).toBe(true);
  });

  it('says what is wrong with a bad expression', () => {
    expect(() => parseCron('a * * * *')).toThrow('"a * * * *": minute field "a" is not "*", a number, a range or a list');
    expect(() => parseCron('5-1 * * * *')).toThrow(/outside 0-59/);
  });
});

describe('versions', () => {
  it('compares dotted numbers numerically', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBe(1);
    expect(compareVersions('v2.0', '2.0.0')).toBe(0);
    expect(compareVersions('1.2.0', '1.2.1')).toBe(-1);
  });
  it('checks ranges', () => {
    const range = parseVersionRange('>=1.0.0 <2.0.0');
    expect(versionInRange('1.5.3', range)).toBe(true);
    expect(versionInRange('2.0.0', range)).toBe(false);
    expect(versionInRange('0.9', range)).toBe(false);
    expect(versionInRange('3.1', parseVersionRange('*'))).toBe(true);
  });
});

describe('bandwidth sharing', () => {
  it('gives what slow links cannot use to the others', () => {
    expect(shareBandwidth(100, [10, 100, 100])).toEqual([10, 45, 45]);
    expect(shareBandwidth(100, [10, 10])).toEqual([10, 10]);
    expect(shareBandwidth(90, [100, 100, 100])).toEqual([30, 30, 30]);
  });
});

describe('idle windows', () => {
  const policy = { minBatteryPercent: 20, windowMargin: 1.5, maxDeferralMs: 60_000 };
  const now = 1_000_000;
  it('needs the window to outlast the estimate with its margin', () => {
    expect(mayStartTransfer({ idle: true, idleUntil: now + 14_000 }, now, 10_000, policy, undefined)).toEqual({ ok: false, reason: 'idle window too short: 14 s left, 15 s needed' });
    expect(mayStartTransfer({ idle: true, idleUntil: now + 16_000 }, now, 10_000, policy, undefined)).toEqual({ ok: true });
    expect(mayStartTransfer({ idle: true, awakeUntil: now + 5_000 }, now, 10_000, policy, undefined).ok).toBe(false);
  });
  it('defers on busy, sleep, low battery and user deferral until it becomes mandatory', () => {
    expect(mayStartTransfer({ idle: false, busyReason: 'driving' }, now, 1, policy, undefined)).toEqual({ ok: false, reason: 'busy: driving' });
    expect(mayStartTransfer({ idle: true, asleep: true }, now, 1, policy, undefined)).toEqual({ ok: false, reason: 'asleep' });
    expect(mayStartTransfer({ idle: true, batteryPercent: 10 }, now, 1, policy, undefined).ok).toBe(false);
    expect(mayStartTransfer({ idle: true, batteryPercent: 10, externalPower: true }, now, 1, policy, undefined).ok).toBe(true);
    const deferring = { idle: true, deferredUntil: now + 3_600_000 };
    expect(mayStartTransfer(deferring, now, 1, policy, now - 1000)).toEqual({ ok: false, reason: 'deferred by the user' });
    expect(mayStartTransfer(deferring, now, 1, policy, now - 60_000)).toEqual({ ok: true });
  });
});
