import { describe, expect, it } from 'vitest';
import { loadObjectModel } from '../../../src/lwm2m/model/registry.js';
import { ManualClock } from '../../../src/util/clock.js';
import { connectivityObject, signalStrength } from '../../../simulators/device/objects/connectivity.js';
import { seedFrom, type ObjectContext } from '../../../simulators/device/objects/context.js';
import { batteryLevel, deviceObject } from '../../../simulators/device/objects/device.js';
import { firmwareObject } from '../../../simulators/device/objects/firmware.js';
import { serverObject } from '../../../simulators/device/objects/server.js';

const model = loadObjectModel();

function context(clock = new ManualClock()): ObjectContext {
  const bootedAt = clock.now();
  return {
    clock,
    endpointName: 'sim-1',
    seed: seedFrom('sim-1'),
    bootedAt: () => bootedAt,
    serverUri: 'coap://127.0.0.1:5683',
    lifetimeSec: 300,
    binding: 'U',
    onReboot: () => {},
    onFactoryReset: () => {},
    onRegistrationChange: () => {},
  };
}

describe('simulated objects', () => {
  it('give every resource the type, multiplicity and operations of the object model', () => {
    const ctx = context();
    for (const object of [serverObject(ctx, 1), deviceObject(ctx, '1.0.0'), connectivityObject(ctx), firmwareObject()]) {
      for (const resource of object.instances.get(0)!.resources()) {
        const spec = model.getResource(object.id, resource.id);
        expect(spec, `/${object.id}/0/${resource.id}`).toBeDefined();
        expect([object.id, resource.id, resource.type, resource.multiple, resource.operations]).toEqual([
          object.id,
          resource.id,
          spec!.type,
          spec!.multiple,
          spec!.operations,
        ]);
      }
    }
  });

  it('drain the battery with the clock and sway the signal', () => {
    const clock = new ManualClock();
    const ctx = context(clock);
    const start = batteryLevel(ctx);
    expect(start).toBe(60 + (seedFrom('sim-1') % 41));
    clock.advance(5 * 60_000);
    expect(batteryLevel(ctx)).toBe(start - 5);
    const strengths = new Set<number>();
    for (let i = 0; i < 6; i++) {
      strengths.add(signalStrength(ctx));
      clock.advance(10_000);
    }
    expect(strengths.size).toBeGreaterThan(1);
    for (const value of strengths) expect(value).toBeGreaterThanOrEqual(-107);
  });
});
