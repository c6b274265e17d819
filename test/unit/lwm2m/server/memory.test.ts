import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/util/clock.js';
import { ObjectRegistry } from '../../../../src/lwm2m/model/registry.js';
import { Lwm2mServer } from '../../../../src/lwm2m/server/lwm2m-server.js';
import type { CoapRequester } from '../../../../src/lwm2m/server/coap-requester.js';
import { registerRequest } from './helpers.js';

// Expose gc without a command-line flag: the flag must be set before a fresh context asks for it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const noDevice: CoapRequester = {
  request: () => Promise.reject(new Error('unused')),
  observe: () => Promise.reject(new Error('unused')),
};

const PAYLOAD = '</>;rt="oma.lwm2m";ct="60 110 112 11542",</1/0>,</3/0>,</4/0>,</5/0>,</5>;ver=1.1,</9/0>,</9/1>,</3303/0>';
const DEVICES = 20_000;

describe('registration memory', () => {
  it(`keeps ${DEVICES} registrations of one device type under 1 KiB of heap each`, async () => {
    const server = new Lwm2mServer({ coap: noDevice, model: ObjectRegistry.fromSpecs([]), clock: new ManualClock() });
    // Each request is built just before it is handled, as the CoAP layer would: everything
    // the request allocated and the server did not keep is garbage by the time we measure.
    const requestFor = (i: number) =>
      registerRequest(
        [`ep=urn:dev:ops:acme-sensor-${String(i).padStart(8, '0')}`, 'lt=3600', 'lwm2m=1.1', 'b=U'],
        PAYLOAD,
        { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 5683 + (i % 1000) },
      );
    // Warm up the code paths (and the interned payload) before the baseline.
    await server.handleRequest(registerRequest(['ep=warmup'], PAYLOAD, { address: '192.168.0.1', port: 1 }));
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < DEVICES; i++) {
      const res = await server.handleRequest(requestFor(i));
      if (res.code !== 0x41) throw new Error(`register failed: ${res.code}`);
    }
    gc();
    gc();
    const perRegistration = (process.memoryUsage().heapUsed - before) / DEVICES;
    expect(server.registrations.count()).toBe(DEVICES + 1);
    // Printed so the figure is visible in test logs, not just pass/fail.
    console.log(`heap per registration: ${perRegistration.toFixed(0)} bytes`);
    expect(perRegistration).toBeLessThan(1024);
    expect(perRegistration).toBeGreaterThan(0);
  });
});
