/**
 * A real Lwm2mServer whose CoapRequester is a FakeDevice, with the HTTP API built on top.
 * Devices register through lwm2m.handleRequest, exactly as the CoAP endpoint would call it.
 */
import type { FastifyInstance } from 'fastify';
import { CoapCode, type IncomingRequest } from '../../../src/coap/types.js';
import { ManualClock } from '../../../src/util/clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { Lwm2mServer } from '../../../src/lwm2m/server/lwm2m-server.js';
import { buildHttpApi, type HttpApiDeps } from '../../../src/api/http-api.js';
import { FakeDevice } from './fake-device.js';
import { TestObjectModel } from './test-model.js';

export const START = 1_700_000_000_000;

export interface Harness {
  app: FastifyInstance;
  lwm2m: Lwm2mServer;
  device: FakeDevice;
  clock: ManualClock;
  model: TestObjectModel;
  /** Registers an endpoint; returns its registration id. */
  register(endpoint: string, options?: { query?: string[]; links?: string; port?: number }): Promise<string>;
  close(): Promise<void>;
}

export function createHarness(extra: Partial<HttpApiDeps> = {}): Harness {
  const model = new TestObjectModel();
  const device = new FakeDevice(model);
  const clock = new ManualClock(START);
  const lwm2m = new Lwm2mServer({ coap: device, model, clock, logger: silentLogger });
  const app = buildHttpApi({ lwm2m, model, logger: silentLogger, version: '1.2.3', ...extra });
  return {
    app,
    lwm2m,
    device,
    clock,
    model,
    async register(endpoint, options = {}) {
      const payload = Buffer.from(options.links ?? '</1/0>,</3/0>,</9990/0>');
      const request: IncomingRequest = {
        remote: { address: '192.0.2.7', port: options.port ?? 56830 },
        method: 'POST',
        path: ['rd'],
        query: [`ep=${endpoint}`, ...(options.query ?? ['lt=300', 'lwm2m=1.1', 'b=U'])],
        payload,
        contentFormat: 40,
        message: { type: 'CON', code: CoapCode.POST, messageId: 1, token: Buffer.alloc(0), options: [], payload },
      };
      const response = await lwm2m.handleRequest(request);
      if (response.code !== CoapCode.Created) throw new Error(`register failed: ${response.payload?.toString()}`);
      return response.locationPath![1];
    },
    async close() {
      await app.close();
      await lwm2m.close();
    },
  };
}
