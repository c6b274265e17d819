/**
 * A server for the firmware tests, composed from the real pieces on 127.0.0.1 (CoAP
 * endpoint, LwM2M server, firmware module) with short timers, plus simulated devices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import type { DatagramTransport } from '../../../src/coap/types.js';
import { loadObjectModel } from '../../../src/lwm2m/model/registry.js';
import { Lwm2mServer } from '../../../src/lwm2m/server/lwm2m-server.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { createFirmwareModule, type FirmwareModule } from '../../../src/firmware/delivery/firmware-module.js';
import type { DeliveryPolicy } from '../../../src/firmware/delivery/policy.js';
import type { DeliveryRecord, RequestedMethod } from '../../../src/firmware/delivery/delivery-record.js';
import type { DeliveryStore } from '../../../src/firmware/delivery/delivery-store.js';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../../simulators/device/index.js';
import { buildSimImage } from '../../../simulators/device/firmware/image-format.js';

export interface FirmwareHarness {
  coap: CoapEndpoint;
  lwm2m: Lwm2mServer;
  firmware: FirmwareModule;
  coapUri: string;
  dataDir: string;
  upload(bytes: Buffer, version: string): Promise<string>;
  image(version: string, payloadBytes: number): Buffer;
  device(options: Partial<SimulatedDeviceOptions> & { endpointName: string }): Promise<SimulatedDevice>;
  deliver(endpoint: string, imageId: string, method: RequestedMethod, withinMs?: number): Promise<DeliveryRecord>;
  close(): Promise<void>;
}

export const FAST_POLICY: Partial<DeliveryPolicy> = {
  requestTimeoutMs: 3000,
  inspectTimeoutMs: 5000,
  transferTimeoutMs: 8000,
  downloadedTimeoutMs: 5000,
  updatingTimeoutMs: 5000,
  verifyingTimeoutMs: 5000,
  pollIntervalMs: 500,
  defaultDeferMs: 200,
  maxAttempts: 3,
};

let sharedModel: ReturnType<typeof loadObjectModel> | undefined;

export async function startFirmwareHarness(options: {
  policy?: Partial<DeliveryPolicy>;
  ackTimeoutMs?: number;
  deliveries?: DeliveryStore;
  dataDir?: string;
  /** Wraps the server's socket (e.g. a lossy link in front of it). */
  wrapTransport?: (t: DatagramTransport) => DatagramTransport;
} = {}): Promise<FirmwareHarness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'fw-test-'));
  const udp = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
  const coap = new CoapEndpoint({ transport: options.wrapTransport ? options.wrapTransport(udp) : udp, ackTimeoutMs: options.ackTimeoutMs ?? 300 });
  sharedModel ??= loadObjectModel();
  const lwm2m = new Lwm2mServer({ coap, model: sharedModel });
  const store = new MemoryStore();
  const firmware = await createFirmwareModule({
    lwm2m,
    store,
    deliveries: options.deliveries,
    dataDir,
    coapAddress: () => coap.address(),
    coap,
    policy: { ...FAST_POLICY, ...options.policy },
  });
  coap.setRequestHandler(firmware.wrapHandler((request) => lwm2m.handleRequest(request)));
  lwm2m.start();
  const devices: SimulatedDevice[] = [];
  const coapUri = `coap://127.0.0.1:${coap.address().port}`;
  return {
    coap,
    lwm2m,
    firmware,
    coapUri,
    dataDir,
    async upload(bytes, version) {
      return (await firmware.repository.upload(Readable.from([bytes]), { name: 'app', version })).id;
    },
    image(version, payloadBytes) {
      const payload = Buffer.alloc(payloadBytes);
      for (let i = 0; i < payloadBytes; i++) payload[i] = (i * 31 + (i >> 8)) & 0xff;
      return buildSimImage({ name: 'app', version, payload });
    },
    async device(deviceOptions) {
      const device = new SimulatedDevice({ serverUri: coapUri, lifetimeSec: 300, retryDelayMs: 200, rebootDelayMs: 20, ackTimeoutMs: 300, ...deviceOptions });
      devices.push(device);
      await device.register();
      return device;
    },
    async deliver(endpoint, imageId, method, withinMs = 15_000) {
      const started = await firmware.deliveries.start(endpoint, imageId, method);
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          firmware.deliveries.whenFinished(started.id),
          new Promise<never>((_, reject) => {
            timer = setTimeout(async () => reject(new Error(`delivery still ${(await firmware.deliveries.get(started.id))?.state} after ${withinMs} ms`)), withinMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await Promise.all(devices.map((device) => device.stop().catch(() => {})));
      await firmware.close();
      await lwm2m.close();
      await coap.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
