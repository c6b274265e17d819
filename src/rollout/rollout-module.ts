/**
 * The rollout part of the composition root in one call: the fleet view over LwM2M, the
 * driver over the delivery service, the scheduler (loaded from the store and ticking).
 * Kept here so src/server.ts only wires it in.
 */
import type { DeliveryService, ImageVerifier } from '../firmware/delivery/delivery-service.js';
import type { FirmwareRepository } from '../firmware/repository/firmware-repository.js';
import type { Lwm2mServer } from '../lwm2m/server/lwm2m-server.js';
import type { Store } from '../store/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { DeliveryDriverAdapter } from './delivery-driver-adapter.js';
import type { DeviceTags } from './device-tags.js';
import { Lwm2mFleetView } from './lwm2m-fleet.js';
import { rehearsalClock } from './scaled-clock.js';
import { RolloutScheduler, type GlobalLimits } from './scheduler.js';

export interface RolloutModuleOptions {
  lwm2m: Lwm2mServer;
  store: Store;
  deliveries: DeliveryService;
  repository: FirmwareRepository;
  /** The server's clock (real time in production). */
  clock?: Clock;
  /** The scheduler's clock runs this many times faster (default 1). */
  timeScale?: number;
  /** The scaled clock when the caller made it already (shared with the delivery service); else made here from clock and timeScale. */
  scaledClock?: Clock;
  tickMs?: number;
  limits?: GlobalLimits;
  verifyImage?: ImageVerifier;
  logger: Logger;
  /** The security profile each device is paired with, for campaign `target.profiles`. */
  profileOf?: (endpoint: string) => string | undefined;
  /** Operator tags of devices, for campaign `target.tags`. */
  tags?: DeviceTags;
}

export interface RolloutModule {
  scheduler: RolloutScheduler;
  fleet: Lwm2mFleetView;
  repository: FirmwareRepository;
  /** The scheduler's clock (scaled under --time-scale). */
  clock: Clock;
  close(): Promise<void>;
}

export async function createRolloutModule(options: RolloutModuleOptions): Promise<RolloutModule> {
  const wallClock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  const clock = options.scaledClock ?? rehearsalClock(wallClock, timeScale);
  const { lwm2m, logger } = options;
  const fleet: Lwm2mFleetView = new Lwm2mFleetView({
    events: lwm2m.events,
    devices: lwm2m.devices,
    registrations: () => lwm2m.registrations.list(),
    presence: (endpoint) => lwm2m.presence(endpoint),
    clock,
    wallClock,
    timeScale,
    logger,
    eager: (): boolean => scheduler.hasActiveCampaigns(),
    profileOf: options.profileOf,
    tagsOf: options.tags ? (endpoint) => options.tags!.get(endpoint) : undefined,
    registered: (endpoint) => lwm2m.registrations.get(endpoint) !== undefined,
  });
  const driver = new DeliveryDriverAdapter({ deliveries: options.deliveries, devices: lwm2m.devices, logger });
  const verify = options.verifyImage;
  const scheduler: RolloutScheduler = new RolloutScheduler({
    store: options.store.campaigns,
    audit: options.store.audit,
    driver,
    inventory: fleet,
    discretion: fleet.discretion,
    clock,
    logger,
    tickMs: options.tickMs,
    limits: options.limits,
    verifyImage: verify
      ? async (spec, endpoint) => {
          const image = await options.repository.get(spec.firmwareId);
          if (!image) return `image ${spec.firmwareId} no longer exists`;
          try {
            await verify(image, endpoint);
            return undefined;
          } catch (err) {
            return err instanceof Error ? err.message : String(err);
          }
        }
      : undefined,
  });
  fleet.start();
  await scheduler.load();
  scheduler.start();
  return {
    scheduler,
    fleet,
    repository: options.repository,
    clock,
    async close() {
      await scheduler.close();
      driver.close();
      fleet.close();
    },
  };
}
