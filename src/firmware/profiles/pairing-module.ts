/**
 * The profiles part of the composition root in one call: the profile tables (SQLite when
 * the store is SQLite, sealed with the store's secret key; else in memory), the pairing
 * service, and the transport guard to put in front of the LwM2M services. Kept here so
 * src/server.ts only wires it in.
 */
import { join } from 'node:path';
import type { IncomingRequest, OutgoingResponse } from '../../coap/types.js';
import type { Lwm2mServer } from '../../lwm2m/server/lwm2m-server.js';
import type { Store } from '../../store/types.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { guardProfileTransport } from './pairing-guard.js';
import { ProfilePairing } from './pairing.js';
import { MemoryProfileStore, type ProfileStore } from './store.js';
import { profileImageVerifier, trackInstalledSequences } from './pairing-verifier.js';
import { learnDeviceTypes } from './pairing-learn.js';
import type { TransportSecurity } from './profile.js';
import type { RemoteAddress } from '../../coap/types.js';
import type { SecurityViolationEvent } from '../../lwm2m/server/events.js';
import type { FirmwareImageMeta } from '../../store/types.js';

export interface ProfilesModuleOptions {
  store: Store;
  dataDir: string;
  /** Same file the store seals credentials with (default <dataDir>/secret.key). */
  secretKeyFile?: string;
  clock?: Clock;
  logger?: Logger;
}

export interface ProfilesModule {
  pairing: ProfilePairing;
  /** Wraps the LwM2M request handler with the transport check of each device's profile. */
  guard(lwm2m: Lwm2mServer, next: (request: IncomingRequest) => OutgoingResponse): (request: IncomingRequest) => OutgoingResponse;
  /** The delivery service's verifyImage hook: refuses an image the device's profile would reject. */
  verifyImage(image: FirmwareImageMeta, endpoint: string): Promise<void>;
  /** Asks newly registered devices for their Device Type (/3/0/17) when device types are paired (pairing-learn.ts). */
  learnDeviceTypes(lwm2m: Lwm2mServer, transportOf: (remote: RemoteAddress) => TransportSecurity): () => void;
  /** Follows deliveries so a device's installed sequence number moves up after each install. */
  followDeliveries(deliveries: Parameters<typeof trackInstalledSequences>[0]['deliveries'], images: { get(id: string): Promise<FirmwareImageMeta | undefined> }): () => void;
}

export async function openProfilesModule(options: ProfilesModuleOptions): Promise<ProfilesModule> {
  const logger = options.logger ?? silentLogger;
  const pairing = await ProfilePairing.open({ store: await profileStoreFor(options), clock: options.clock, logger });
  const verifyImage = profileImageVerifier(pairing, options.clock ?? systemClock);
  const violation = (lwm2m: Lwm2mServer) => (event: SecurityViolationEvent) => {
    logger.warn({ violation: event }, `security violation: ${event.reason}`);
    lwm2m.events.emit('securityViolation', event);
  };
  return {
    pairing,
    verifyImage,
    learnDeviceTypes: (lwm2m, transportOf) =>
      learnDeviceTypes({
        events: lwm2m.events,
        read: (endpoint, path, readOptions) => lwm2m.devices.read(endpoint, path, readOptions),
        transportOf: (_endpoint, remote) => transportOf(remote),
        pairing,
        onViolation: violation(lwm2m),
        logger,
      }),
    followDeliveries: (deliveries, images) => trackInstalledSequences({ deliveries, images, pairing, logger }),
    guard: (lwm2m, next) =>
      guardProfileTransport(next, {
        pairing,
        registrations: { getById: (id) => lwm2m.registrations.getById(id), getByAddress: (remote) => lwm2m.registrations.getByAddress(remote) },
        onViolation: violation(lwm2m),
        logger,
      }),
  };
}

async function profileStoreFor(options: ProfilesModuleOptions): Promise<ProfileStore> {
  const db = (options.store as Partial<{ db: unknown }>).db;
  if (options.store.kind !== 'sqlite' || !db) return new MemoryProfileStore();
  const [{ SqliteProfiles }, { SecretBox, loadOrCreateSecretKey }, { SECRET_KEY_FILE_NAME }] = await Promise.all([
    import('../../store/sqlite/sqlite-profiles.js'),
    import('../../store/secret-box.js'),
    import('../../store/open-store.js'),
  ]);
  const { key } = loadOrCreateSecretKey(options.secretKeyFile ?? join(options.dataDir, SECRET_KEY_FILE_NAME));
  return new SqliteProfiles(db as import('../../store/sqlite/database.js').SqliteDatabase, new SecretBox(key));
}
