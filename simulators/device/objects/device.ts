/**
 * Object 3 Device: identity, power, memory, errors and time. Battery level drains with the
 * clock and free memory wanders, so observations of them see real changes.
 */
import {
  BadValueError,
  computedMultiResource,
  computedResource,
  executableResource,
  multiResource,
  SimInstance,
  singleInstanceObject,
  valueResource,
  type SimObject,
} from './base.js';
import type { ObjectContext } from './context.js';

const POWER_INTERNAL_BATTERY = 1;
const POWER_USB = 5;
const ERROR_NONE = 0;
const ERROR_LOW_BATTERY = 1;
const MEMORY_TOTAL_KB = 512;
/** One percent of battery per this many milliseconds of uptime. */
const BATTERY_DRAIN_MS = 60_000;

export function batteryLevel(context: ObjectContext): number {
  const start = 60 + (context.seed % 41); // 60..100 % at boot
  const drained = Math.floor((context.clock.now() - context.bootedAt()) / BATTERY_DRAIN_MS);
  return Math.max(0, start - drained);
}

export function deviceObject(context: ObjectContext, firmwareVersion: string): SimObject {
  // Current Time is writable: the device keeps the offset between its clock and the server's.
  let timeOffsetMs = 0;
  let errorCodes: number[] = [ERROR_NONE];
  const memoryFree = (): number => {
    const wander = Math.floor(context.clock.now() / 10_000 + context.seed) % 32;
    return MEMORY_TOTAL_KB - 200 - wander;
  };
  const instance = new SimInstance(0, [
    valueResource(0, 'string', 'R', 'Open Mobile Alliance Sim'),
    valueResource(1, 'string', 'R', 'LwM2M-Sim-1'),
    valueResource(2, 'string', 'R', `SN${context.seed.toString(16).padStart(8, '0').toUpperCase()}`),
    valueResource(3, 'string', 'R', firmwareVersion),
    executableResource(4, () => context.onReboot()),
    executableResource(5, () => context.onFactoryReset()),
    multiResource(6, 'integer', 'R', [POWER_INTERNAL_BATTERY, POWER_USB]),
    multiResource(7, 'integer', 'R', [3800, 5000]),
    multiResource(8, 'integer', 'R', [125, 900]),
    computedResource(9, 'integer', () => batteryLevel(context)),
    computedResource(10, 'integer', memoryFree),
    computedMultiResource(11, 'integer', () => {
      const codes = batteryLevel(context) < 10 ? [ERROR_LOW_BATTERY] : errorCodes;
      return new Map(codes.map((code, index) => [index, code]));
    }),
    executableResource(12, () => {
      errorCodes = [ERROR_NONE];
    }),
    computedResource(
      13,
      'time',
      () => new Date(Math.floor((context.clock.now() + timeOffsetMs) / 1000) * 1000),
      (value) => {
        if (!(value instanceof Date)) throw new BadValueError('current time must be a time');
        timeOffsetMs = value.getTime() - context.clock.now();
      },
    ),
    valueResource(14, 'string', 'RW', '+01:00', {
      validate: (value) => {
        if (typeof value !== 'string' || !/^[+-]\d{2}(:?\d{2})?$/.test(value)) {
          throw new BadValueError('UTC offset must look like +01:00');
        }
      },
    }),
    valueResource(15, 'string', 'RW', 'Europe/Paris'),
    valueResource(16, 'string', 'R', 'UQ'),
    valueResource(17, 'string', 'R', 'sensor'),
    valueResource(18, 'string', 'R', 'rev-B'),
    valueResource(19, 'string', 'R', '1.4.2'),
    computedResource(20, 'integer', () => (batteryLevel(context) < 10 ? 4 : 0)),
    valueResource(21, 'integer', 'R', MEMORY_TOTAL_KB),
  ]);
  return singleInstanceObject(3, instance);
}
