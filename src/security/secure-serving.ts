/**
 * Everything CoAPS adds to the server, assembled in one place so the composition root only
 * wires it: the in-memory security registry, the server's DTLS credentials, the CoAPS
 * listener (a second CoapEndpoint over DTLS), the router that sends each device's requests
 * through the right listener, the identity checks in front of both listeners, and
 * registrations following Connection ID address moves.
 */
import { CoapEndpoint } from '../coap/endpoint.js';
import type { DtlsLimits, DtlsTransport } from '../dtls/index.js';
import type { Lwm2mServer } from '../lwm2m/server/lwm2m-server.js';
import type { RegistrationStore } from '../lwm2m/server/registration-store.js';
import { addressKey } from '../lwm2m/server/registration.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { followAddressMoves } from './address-moves.js';
import { bindCoapsTransport } from './coaps-transport.js';
import { DeviceRouter } from './device-router.js';
import { guardRequests, type RegistrationGuardOptions } from './registration-guard.js';
import { SecurityRegistry } from './security-registry.js';
import { describeServerCredentials, loadServerCredentials, type ServerCredentials, type ServerCredentialsView } from './server-credentials.js';

export interface SecureServingOptions {
  host: string;
  port: number;
  dataDir: string;
  allowNoSec: boolean;
  dtlsKeyFile?: string;
  dtlsCertFile?: string;
  dtlsCaFile?: string;
  dtlsLimits?: Partial<DtlsLimits>;
  store: Pick<Store, 'security'>;
  registrations: RegistrationStore;
  /** The plain CoAP listener, already bound. */
  plain: CoapEndpoint;
  clock: Clock;
  logger: Logger;
}

export interface SecureServing {
  readonly registry: SecurityRegistry;
  readonly credentials: ServerCredentials;
  readonly transport: DtlsTransport;
  /** The CoAPS listener. */
  readonly endpoint: CoapEndpoint;
  /** What the LwM2M server sends device requests through. */
  readonly router: DeviceRouter;
  readonly port: number;
  serverCredentialsView(): ServerCredentialsView;
  /** Puts the identity checks in front of the LwM2M server on both listeners. */
  attach(lwm2m: Lwm2mServer): void;
  close(): Promise<void>;
}

export async function openSecureServing(options: SecureServingOptions): Promise<SecureServing> {
  const log = options.logger;
  const registry = await SecurityRegistry.load(options.store.security);
  const credentials = loadServerCredentials({
    dataDir: options.dataDir,
    keyFile: options.dtlsKeyFile,
    certFile: options.dtlsCertFile,
    caFile: options.dtlsCaFile,
    now: () => options.clock.now(),
  });
  if (credentials.generated) log.info({ key: credentials.keyFile, cert: credentials.certFile }, 'created a self-signed DTLS server key and certificate');
  const transport = await bindCoapsTransport({
    host: options.host,
    port: options.port,
    registry,
    credentials,
    clock: options.clock,
    logger: log.child({ layer: 'dtls' }),
    limits: options.dtlsLimits,
  });
  const endpoint = new CoapEndpoint({ transport, clock: options.clock, logger: log.child({ layer: 'coaps' }) });
  const registrations = options.registrations;
  const router = new DeviceRouter({
    plain: options.plain,
    secure: endpoint,
    hasSecureSession: (remote) => transport.peerIdentity(remote) !== undefined,
    requiresSecurity: (remote) => {
      const registration = registrations.getByAddress(remote);
      return registration !== undefined && registry.get(registration.endpoint) !== undefined;
    },
  });
  log.info({ devices: registry.size, allowNoSec: options.allowNoSec, x509Clients: credentials.trustAnchorsPem.length > 0 }, 'security info loaded');
  if (options.allowNoSec) log.warn('devices without security info may register over plain CoAP (--allow-nosec); use --no-allow-nosec in production');

  let view: ServerCredentialsView | undefined;
  return {
    registry,
    credentials,
    transport,
    endpoint,
    router,
    port: endpoint.address().port,
    serverCredentialsView: () => (view ??= describeServerCredentials(credentials)),
    attach(lwm2m) {
      const guard: RegistrationGuardOptions = {
        security: registry,
        registrations,
        allowNoSec: options.allowNoSec,
        onViolation: (event) => {
          log.warn({ violation: event }, `security violation: ${event.reason}`);
          lwm2m.events.emit('securityViolation', event);
        },
      };
      const handle = lwm2m.handleRequest.bind(lwm2m);
      options.plain.setRequestHandler(guardRequests(handle, false, guard));
      endpoint.setRequestHandler(guardRequests(handle, true, guard));
      followAddressMoves(transport, registrations, lwm2m.events, log);
    },
    close: () => endpoint.close(),
  };
}
