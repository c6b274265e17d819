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
import { queuePersistenceWithAudit } from './lwm2m/server/queue-persistence.js';
import { buildHttpApi } from './api/http-api.js';
import type { Logger } from './util/logger.js';
import { systemClock, type Clock } from './util/clock.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/types.js';
import { WriteBehindRegistrationStore } from './store/write-behind-registrations.js';
import { startBootstrapListener, type BootstrapListener } from './lwm2m/bootstrap/listener.js';
import { MemoryRegistrationStore, type RegistrationStore } from './lwm2m/server/registration-store.js';
import { openSecureServing } from './security/secure-serving.js';
import type { SecurityRegistry } from './security/security-registry.js';
import type { DtlsTransport } from './dtls/index.js';
import { createFirmwareModule, type FirmwareModule } from './firmware/delivery/firmware-module.js';
import { securePullOver } from './firmware/delivery/secure-pull.js';
import { createRolloutModule, type RolloutModule } from './rollout/rollout-module.js';
import { rehearsalClock } from './rollout/scaled-clock.js';
import { DeviceTags } from './rollout/device-tags.js';
import { openProfilesModule, type ProfilesModule } from './firmware/profiles/pairing-module.js';
import { BootstrapCredentialIndex } from './security/bootstrap-credentials.js';
import { openSecureBootstrap } from './security/bootstrap-serving.js';

export interface RunningServer {
  coapPort: number;
  httpPort: number;
  lwm2m: Lwm2mServer;
  coap: CoapEndpoint;
  http: FastifyInstance;
  store: Store;
  /** The CoAPS (DTLS) listener: its port, CoAP endpoint and DTLS transport. */
  coapsPort: number;
  coaps: CoapEndpoint;
  dtls: DtlsTransport;
  /** Device security info in memory (what the DTLS callbacks and the identity checks read). */
  security: SecurityRegistry;
  /** The bootstrap server's listener; undefined when the default port was taken (see the warning in the log). */
  bootstrapPort: number | undefined;
  bootstrap: BootstrapListener | undefined;
  /** The bootstrap server's CoAPS listener (`--bootstrap-coaps-port`); undefined when the default port was taken. */
  bootstrapCoapsPort: number | undefined;
  bootstrapCoaps: BootstrapListener | undefined;
  /** Firmware repository, pull host and Object 5 delivery driver. */
  firmware: FirmwareModule;
  /** Rollout campaigns: the scheduler and the fleet view it reads. */
  rollout: RolloutModule;
  /** Security profiles and which device is held to which. */
  profiles: ProfilesModule;
  close(): Promise<void>;
}

export const SERVER_VERSION = '0.1.0';

export async function startServer(config: ServerConfig, logger: Logger, clock: Clock = systemClock): Promise<RunningServer> {
  // Every part opened is pushed here; a failure half-way and close() both shut them down in
  // reverse order, so the store is flushed and closed after everything that writes to it.
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    return await openAll(config, logger, clock, closers, closeAll);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function openAll(
  config: ServerConfig,
  logger: Logger,
  clock: Clock,
  closers: (() => Promise<void> | void)[],
  closeAll: () => Promise<void>,
): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const model = loadObjectModel(config.objectDirs);

  const storeLogger = logger.child({ layer: 'store' });
  const store = openStore({ kind: config.store ?? 'sqlite', dataDir: config.dataDir, secretKeyFile: config.secretKeyFile, logger: storeLogger });
  closers.push(() => store.close());
  // Registrations come back before the socket opens, so a restarted server answers the devices'
  // next updates (and operators' requests) as if it had never stopped.
  const registrations: RegistrationStore & { close?(): Promise<void> } =
    store.kind === 'memory'
      ? new MemoryRegistrationStore()
      : await WriteBehindRegistrationStore.open({ persistence: store.registrations, clock, logger: storeLogger });
  // Flushed after every layer that changes registrations has closed.
  closers.push(() => registrations.close?.());
  if (store.kind !== 'memory') storeLogger.info({ registrations: registrations.count() }, 'registrations restored');

  const transport = await bindUdpTransport({ host: config.coapHost, port: config.coapPort });
  const coap = new CoapEndpoint({ transport, clock, logger: logger.child({ layer: 'coap' }) });
  closers.push(() => coap.close());
  const secure = await openSecureServing({
    host: config.coapHost,
    port: config.coapsPort ?? 5684,
    dataDir: config.dataDir,
    allowNoSec: config.allowNoSec ?? true,
    dtlsKeyFile: config.dtlsKeyFile,
    dtlsCertFile: config.dtlsCertFile,
    dtlsCaFile: config.dtlsCaFile,
    dtlsLimits: config.dtlsLimits,
    store,
    registrations,
    plain: coap,
    clock,
    logger: logger.child({ layer: 'security' }),
  });
  closers.push(() => secure.close());
  const lwm2m = new Lwm2mServer({
    // Requests to devices leave through the listener (CoAP or CoAPS) each device uses.
    coap: secure.router,
    model,
    clock,
    logger: logger.child({ layer: 'lwm2m' }),
    store: registrations,
    awakeTimeMs: config.queueAwakeTimeSec === undefined ? undefined : config.queueAwakeTimeSec * 1000,
    expiryGraceMs: config.expiryGraceSec === undefined ? undefined : config.expiryGraceSec * 1000,
    // A memory store forgets at exit anyway; persistent ones bring observations back at start.
    observationPersistence: store.kind === 'memory' ? undefined : store.observations,
    // Requests for sleeping devices too; after a restart their answers go to events and the audit log.
    queuePersistence: store.kind === 'memory' ? undefined : queuePersistenceWithAudit(store.queuedRequests, store.audit, clock),
  });
  closers.push(() => lwm2m.close());
  const profiles = await openProfilesModule({ store, dataDir: config.dataDir, secretKeyFile: config.secretKeyFile, clock, logger: logger.child({ layer: 'profiles' }) });
  // Under --time-scale the delivery service runs on the scheduler's scaled clock too: phase
  // timeouts, deferral waits and retries keep pace with a rehearsed plan.
  const scaledClock = rehearsalClock(clock, config.timeScale);
  const firmware = await createFirmwareModule({
    lwm2m,
    store,
    dataDir: config.dataDir,
    coapAddress: () => coap.address(),
    coap,
    // Devices on CoAPS are pushed to through it, and pull from it (only their own identity may fetch).
    requester: secure.router,
    secure: securePullOver({
      endpoint: secure.endpoint,
      peerIdentity: (remote) => secure.transport.peerIdentity(remote),
      securityInfo: (endpoint) => secure.registry.get(endpoint),
      registration: (endpoint) => lwm2m.registrations.get(endpoint),
    }),
    pullHost: config.firmwarePullHost,
    maxImageBytes: config.maxImageBytes,
    clock: scaledClock,
    logger: logger.child({ layer: 'firmware' }),
    verifyImage: (image, endpoint) => profiles.verifyImage(image, endpoint),
  });
  closers.push(() => firmware.close());
  // Requests are served from secure.attach() on, before the deliveries are resumed below:
  // meanwhile a device pulling across the restart is asked to come back, not told 4.04.
  firmware.host.beginRestoring();
  profiles.followDeliveries(firmware.deliveries, store.firmwareImages);
  // Pull URIs (/fw/<token>) are served by the same endpoints, in front of the LwM2M routes.
  lwm2m.handleRequest = firmware.wrapHandler(lwm2m.handleRequest.bind(lwm2m));
  // Each device's profile sets a floor on its transport security (checked after the identity checks).
  lwm2m.handleRequest = profiles.guard(lwm2m, lwm2m.handleRequest.bind(lwm2m));
  // Both listeners serve the same LwM2M server, behind the endpoint-to-credential checks.
  secure.attach(lwm2m);
  profiles.learnDeviceTypes(lwm2m, (remote) => secure.transport.peerIdentity(remote)?.kind ?? 'none');
  const restoredObservations = await lwm2m.restore();
  if (restoredObservations > 0) {
    storeLogger.info({ observations: restoredObservations }, 'observations restored');
    // Notifications of observations made before a restart carry tokens the endpoint no longer knows.
    coap.onUnknownNotification((notification) => lwm2m.acceptRestoredNotification(notification));
  }
  lwm2m.start();
  await firmware.deliveries.resume();
  firmware.host.endRestoring();
  const deviceTags = await DeviceTags.open(store.deviceTags);
  const rollout = await createRolloutModule({
    lwm2m,
    store,
    deliveries: firmware.deliveries,
    repository: firmware.repository,
    clock,
    timeScale: config.timeScale,
    scaledClock,
    profileOf: (endpoint) => profiles.pairing.resolve(endpoint)?.profile.name,
    tags: deviceTags,
    verifyImage: (image, endpoint) => profiles.verifyImage(image, endpoint),
    logger: logger.child({ layer: 'rollout' }),
  });
  closers.push(() => rollout.close());

  // Bootstrap credentials live in the bootstrap configurations: every change through the API updates the DTLS lookups.
  const bootstrapCredentials = await BootstrapCredentialIndex.load(store.bootstrapConfigs);
  const bootstrapConfigs = bootstrapCredentials.tracking(store.bootstrapConfigs);
  const bootstrap = await startBootstrapListener({
    port: config.bootstrapPort,
    bind: (port) => bindUdpTransport({ host: config.coapHost, port }),
    configs: bootstrapConfigs,
    audit: store.audit,
    events: lwm2m.events,
    model,
    clock,
    logger: logger.child({ layer: 'bootstrap' }),
  });
  closers.push(() => bootstrap?.close());
  const secureBootstrap = await openSecureBootstrap({
    host: config.coapHost,
    port: config.bootstrapCoapsPort,
    index: bootstrapCredentials,
    registry: secure.registry,
    credentials: secure.credentials,
    allowNoSec: config.allowNoSec ?? true,
    limits: config.dtlsLimits,
    plain: bootstrap,
    configs: bootstrapConfigs,
    audit: store.audit,
    events: lwm2m.events,
    model,
    clock,
    logger: logger.child({ layer: 'bootstrap', transport: 'coaps' }),
  });
  closers.push(() => secureBootstrap?.close());

  const http = buildHttpApi({
    lwm2m,
    model,
    logger: logger.child({ layer: 'api' }),
    version: SERVER_VERSION,
    security: { registry: secure.registry, serverCredentials: () => secure.serverCredentialsView(), audit: store.audit, logger },
    bootstrap: { configs: bootstrapConfigs, audit: store.audit, session: (endpoint) => latestBootstrapStatus(endpoint, bootstrap, secureBootstrap?.listener), logger },
    firmware: { repository: firmware.repository, deliveries: firmware.deliveries },
    profiles: { pairing: profiles.pairing, audit: store.audit, logger, signedFirmware: { repository: firmware.repository, images: store.firmwareImages } },
    campaigns: { scheduler: rollout.scheduler, repository: firmware.repository, clock: rollout.clock },
    deviceTags: { tags: deviceTags, audit: store.audit, clock },
  });
  closers.push(() => http.close());
  await http.listen({ host: config.httpHost, port: config.httpPort });
  const httpAddress = http.server.address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : config.httpPort;
  const coapPort = coap.address().port;

  return {
    coapPort,
    httpPort,
    lwm2m,
    coap,
    http,
    store,
    coapsPort: secure.port,
    bootstrapPort: bootstrap?.port,
    bootstrap,
    bootstrapCoapsPort: secureBootstrap?.port,
    bootstrapCoaps: secureBootstrap?.listener,
    firmware,
    rollout,
    profiles,
    coaps: secure.endpoint,
    dtls: secure.transport,
    security: secure.registry,
    close: closeAll,
  };
}

/** A device may bootstrap over either listener: the API shows its most recent session. */
function latestBootstrapStatus(endpoint: string, ...listeners: (BootstrapListener | undefined)[]) {
  const found = listeners.map((l) => l?.server.status(endpoint)).filter((s) => s !== undefined);
  return found.sort((a, b) => b.startedAt - a.startedAt)[0];
}
