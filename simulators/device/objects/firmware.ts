/**
 * Object 5 Firmware Update of a simulated device: each resource reads or drives the
 * device's FirmwareUpdater (A/B slots, push, resumable pull, test boot and revert).
 */
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { FirmwareUpdater, PackageRejectedError } from '../firmware/firmware-updater.js';
import { MemorySlotStore } from '../firmware/slot-store.js';
import { UpdaterTransitionError } from '../firmware/updater-state.js';
import {
  BadValueError,
  computedMultiResource,
  computedResource,
  executableResource,
  NotAllowedError,
  SimInstance,
  singleInstanceObject,
  type ResourceContent,
  type SimObject,
  type SimResource,
} from './base.js';

export const FIRMWARE_STATE = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;

/** Package (0), write-only: the bytes go straight to the updater's download slot. */
function packageResource(updater: FirmwareUpdater): SimResource {
  return {
    id: 0,
    type: 'opaque',
    operations: 'W',
    multiple: false,
    read: () => {
      throw new NotAllowedError('package is write-only');
    },
    write: (value) => guarded(() => updater.pushPackage(Buffer.isBuffer(value) ? value : Buffer.alloc(0))),
    execute: () => {
      throw new NotAllowedError('package is not executable');
    },
  };
}

/** A firmware object on its own (tests of the object model): in-memory slots, no reboot. */
function standaloneUpdater(): FirmwareUpdater {
  return new FirmwareUpdater({
    store: new MemorySlotStore(),
    factory: { name: 'sim-firmware', version: '1.0.0' },
    openTransport: () => bindUdpTransport({ host: '127.0.0.1', port: 0 }),
    onChange: () => {},
    reboot: () => {},
  });
}

export function firmwareObject(updater: FirmwareUpdater = standaloneUpdater(), clockNow: () => number = Date.now): SimObject {
  let lastChange = new Date(Math.floor(clockNow() / 1000) * 1000);
  let lastState = updater.state;
  let severity = 1;
  let maxDefer = updater.maxDeferPeriodSec;
  const instance = new SimInstance(0, [
    packageResource(updater),
    computedResource(1, 'string', () => updater.packageUri, (value) => guarded(() => updater.writeUri(asString(value)))),
    executableResource(2, () => guarded(() => updater.executeUpdate())),
    computedResource(3, 'integer', () => {
      if (updater.state !== lastState) {
        lastState = updater.state;
        lastChange = new Date(Math.floor(clockNow() / 1000) * 1000);
      }
      return updater.state;
    }),
    computedResource(5, 'integer', () => updater.result),
    computedResource(6, 'string', () => updater.running.name),
    computedResource(7, 'string', () => updater.reportedVersion),
    computedMultiResource(8, 'integer', () => new Map(updater.protocols.map((p, i) => [i, p]))),
    computedResource(9, 'integer', () => updater.deliveryMethod),
    executableResource(10, () => guarded(() => updater.cancel())),
    computedResource(11, 'integer', () => severity, (value) => {
      if (typeof value !== 'number' || value < 0 || value > 2) throw new BadValueError('severity is 0, 1 or 2');
      severity = value;
    }),
    computedResource(12, 'time', () => lastChange),
    computedResource(13, 'unsigned', () => maxDefer, (value) => {
      if (typeof value !== 'number' || value < 0) throw new BadValueError('maximum defer period is a number of seconds');
      maxDefer = value;
    }),
  ]);
  return singleInstanceObject(5, instance);
}

function guarded(action: () => void): void {
  try {
    action();
  } catch (err) {
    if (err instanceof PackageRejectedError) throw new BadValueError(err.message);
    if (err instanceof UpdaterTransitionError) throw new NotAllowedError(err.message);
    throw err;
  }
}

function asString(value: ResourceContent): string {
  if (typeof value !== 'string') throw new BadValueError('Package URI must be a string');
  return value;
}

