/**
 * The firmware part of the composition root in one call: repository (bytes under
 * <dataDir>/firmware), pull host, delivery store and the driver, built from what
 * src/server.ts already has. Kept here so server.ts only wires it in. With `secure`, devices
 * on CoAPS are given coaps:// pull URIs served by the CoAPS listener (secure-pull.ts).
 */
import { join } from 'node:path';
import type { Block2Served } from '../../coap/endpoint.js';
import type { IncomingRequest, OutgoingResponse, RemoteAddress } from '../../coap/types.js';
import type { Lwm2mServer } from '../../lwm2m/server/lwm2m-server.js';
import type { Store } from '../../store/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { FirmwareRepository } from '../repository/firmware-repository.js';
import type { BlockRequester } from './block-push.js';
import { DeliveryService, type ImageVerifier } from './delivery-service.js';
import { MemoryDeliveryStore, type DeliveryStore } from './delivery-store.js';
import { FirmwareHost } from './firmware-host.js';
import type { DeliveryPolicy } from './policy.js';
import type { SecurePull } from './secure-pull.js';

export interface FirmwareModuleOptions {
  lwm2m: Lwm2mServer;
  store: Store;
  /** The persisted delivery table; default: SQLite when the store is SQLite, else in memory. */
  deliveries?: DeliveryStore;
  dataDir: string;
  /** The bound CoAP address; used for pull URIs unless pullHost is given. */
  coapAddress: () => RemoteAddress;
  /** Host name or address devices use to reach us (needed when CoAP is bound to 0.0.0.0). */
  pullHost?: string;
  maxImageBytes?: number;
  policy?: Partial<DeliveryPolicy>;
  clock?: Clock;
  logger?: Logger;
  verifyImage?: ImageVerifier;
  /** The CoAP endpoint serving the pull URIs: with it, pull progress counts every block served. */
  /** With request(), a push goes block by block and can pause and resume at the acknowledged offset. */
  coap?: { onBlock2Served(listener: (served: Block2Served) => void): void; forgetBlock2Bodies?(test: (response: OutgoingResponse) => boolean): number } & Partial<BlockRequester>;
  /** Sends the push blocks instead of `coap` (the device router: CoAPS devices get them over CoAPS). */
  requester?: BlockRequester;
  /** The CoAPS listener: pull URIs (and who may fetch them) for devices on CoAPS. */
  secure?: SecurePull;
}

export interface FirmwareModule {
  repository: FirmwareRepository;
  host: FirmwareHost;
  deliveries: DeliveryService;
  /** Wraps the LwM2M request handler so /fw/... is served from the same endpoint. */
  wrapHandler(next: (request: IncomingRequest) => OutgoingResponse): (request: IncomingRequest) => OutgoingResponse;
  close(): Promise<void>;
}

export async function createFirmwareModule(options: FirmwareModuleOptions): Promise<FirmwareModule> {
  const repository = new FirmwareRepository({
    images: options.store.firmwareImages,
    dir: join(options.dataDir, 'firmware'),
    maxImageBytes: options.maxImageBytes,
    clock: options.clock,
  });
  const log = options.logger;
  const secure = options.secure;
  const host = new FirmwareHost({
    ...(secure ? { checkPeer: (endpoint, security) => secure.refusal(endpoint, security) } : {}),
    onRefused: (endpoint, reason, security) => log?.warn({ ep: endpoint, reason, identity: security?.identity }, 'firmware download refused'),
    onWithdrawn: (image) => {
      options.coap?.forgetBlock2Bodies?.((response) => response === image);
      secure?.endpoint.forgetBlock2Bodies?.((response) => response === image);
    },
  });
  options.coap?.onBlock2Served(host.blocksServed());
  secure?.endpoint.onBlock2Served(host.blocksServed());
  const requester = options.requester ?? (options.coap?.request ? { request: options.coap.request.bind(options.coap) } : undefined);
  const store = options.deliveries ?? (await defaultDeliveryStore(options.store));
  const deliveries = new DeliveryService({
    devices: options.lwm2m.devices,
    events: options.lwm2m.events,
    registration: (endpoint) => options.lwm2m.registrations.get(endpoint),
    repository,
    store,
    host,
    pullBaseUri: (scheme) => {
      const bound = scheme === 'coaps' && secure ? secure.address() : options.coapAddress();
      const address = options.pullHost ?? (bound.address === '0.0.0.0' || bound.address === '::' ? '127.0.0.1' : bound.address);
      return `${scheme}://${address.includes(':') ? `[${address}]` : address}:${bound.port}`;
    },
    ...(secure ? { securePull: (endpoint: string) => secure.isSecure(endpoint) } : {}),
    policy: options.policy,
    clock: options.clock,
    logger: options.logger,
    verifyImage: options.verifyImage,
    ...(requester ? { blockRequester: requester } : {}),
  });
  return {
    repository,
    host,
    deliveries,
    wrapHandler: (next) => host.wrap(next),
    close: () => deliveries.close(),
  };
}

async function defaultDeliveryStore(store: Store): Promise<DeliveryStore> {
  const db = (store as Partial<{ db: unknown }>).db;
  if (store.kind === 'sqlite' && db) {
    const { SqliteDeliveries } = await import('../../store/sqlite/sqlite-deliveries.js');
    return new SqliteDeliveries(db as import('../../store/sqlite/database.js').SqliteDatabase);
  }
  return new MemoryDeliveryStore();
}
