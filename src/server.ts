/**
 * The composition root: builds every layer and wires them together. The only place that
 * knows all of them; each layer below knows only its own neighbours.
 */
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from './config.js';
import { bindUdpTransport } from './coap/udp-transport.js';
import { CoapEndpoint } from './coap/endpoint.js';
import { loadObjectModel } from './lwm2m/model/registry.js';
import { Lwm2mServer } from './lwm2m/server/lwm2m-server.js';
import { buildHttpApi } from './api/http-api.js';
import type { Logger } from './util/logger.js';
import { systemClock, type Clock } from './util/clock.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/types.js';
import { WriteBehindRegistrationStore } from './store/write-behind-registrations.js';
import { MemoryRegistrationStore, type RegistrationStore } from './lwm2m/server/registration-store.js';

export interface RunningServer {
  coapPort: number;
  httpPort: number;
  lwm2m: Lwm2mServer;
  coap: CoapEndpoint;
  http: FastifyInstance;
  store: Store;
  close(): Promise<void>;
}

export const SERVER_VERSION = '0.1.0';

export async function startServer(config: ServerConfig, logger: Logger, clock: Clock = systemClock): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const model = loadObjectModel(config.objectDirs);

  const storeLogger = logger.child({ layer: 'store' });
  const store = openStore({ kind: config.store ?? 'sqlite', dataDir: config.dataDir, secretKeyFile: config.secretKeyFile, logger: storeLogger });
  // Registrations come back before the socket opens, so a restarted server answers the devices'
  // next updates (and operators' requests) as if it had never stopped.
  const registrations: RegistrationStore & { close?(): Promise<void> } =
    store.kind === 'memory'
      ? new MemoryRegistrationStore()
      : await WriteBehindRegistrationStore.open({ persistence: store.registrations, clock, logger: storeLogger });
  if (store.kind !== 'memory') storeLogger.info({ registrations: registrations.count() }, 'registrations restored');

  let transport;
  try {
    transport = await bindUdpTransport({ host: config.coapHost, port: config.coapPort });
  } catch (error) {
    await store.close();
    throw error;
  }
  const coap = new CoapEndpoint({ transport, clock, logger: logger.child({ layer: 'coap' }) });
  const lwm2m = new Lwm2mServer({
    coap,
    model,
    clock,
    logger: logger.child({ layer: 'lwm2m' }),
    store: registrations,
    awakeTimeMs: config.queueAwakeTimeSec === undefined ? undefined : config.queueAwakeTimeSec * 1000,
    expiryGraceMs: config.expiryGraceSec === undefined ? undefined : config.expiryGraceSec * 1000,
  });
  coap.setRequestHandler((request) => lwm2m.handleRequest(request));
  lwm2m.start();

  const http = buildHttpApi({ lwm2m, model, logger: logger.child({ layer: 'api' }), version: SERVER_VERSION });
  try {
    await http.listen({ host: config.httpHost, port: config.httpPort });
  } catch (error) {
    await lwm2m.close();
    await coap.close();
    await registrations.close?.();
    await store.close();
    throw error;
  }
  const httpAddress = http.server.address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : config.httpPort;
  const coapPort = coap.address().port;

  let closed = false;
  return {
    coapPort,
    httpPort,
    lwm2m,
    coap,
    http,
    store,
    async close() {
      if (closed) return;
      closed = true;
      await http.close();
      await lwm2m.close();
      await coap.close();
      // Last: whatever the closing layers changed is flushed before the database closes.
      await registrations.close?.();
      await store.close();
    },
  };
}
