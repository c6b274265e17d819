/**
 * `simulate --bootstrap coap://…`: devices that know only their bootstrap server. Each
 * one bootstraps, then registers with the server account it was given. Kept apart from
 * the registration fleet, which starts devices that already know their server.
 */
import type { Logger } from '../../src/util/logger.js';
import type { Lwm2mVersion } from './content.js';
import { SimulatedDevice } from './simulated-device.js';

export interface BootstrapFleetOptions {
  bootstrapUri: string;
  count: number;
  prefix: string;
  lwm2mVersion: Lwm2mVersion;
  startRatePerSec: number;
  logger: Logger;
}

export type BootstrapMilestone =
  | { msg: 'registered'; ep: string; server: string; elapsedMs: number }
  | { msg: 'registration failed'; ep: string; reason: string }
  | { msg: 'all registered'; count: number; elapsedMs: number };

export class BootstrapFleet {
  private readonly devices: SimulatedDevice[] = [];
  private readonly registered = new Set<string>();
  private readonly startedAt = Date.now();
  private stopped = false;

  constructor(
    private readonly options: BootstrapFleetOptions,
    private readonly onMilestone: (milestone: BootstrapMilestone) => void,
  ) {}

  get registeredCount(): number {
    return this.registered.size;
  }

  async start(): Promise<void> {
    const gapMs = 1000 / this.options.startRatePerSec;
    for (let i = 0; i < this.options.count && !this.stopped; i++) {
      const ep = `${this.options.prefix}${i}`;
      const device = new SimulatedDevice({
        endpointName: ep,
        serverUri: '',
        bootstrapUri: this.options.bootstrapUri,
        lwm2mVersion: this.options.lwm2mVersion,
        logger: this.options.logger,
      });
      this.devices.push(device);
      device.on('registered', ({ elapsedMs }) => {
        this.registered.add(ep);
        this.onMilestone({ msg: 'registered', ep, server: device.bootstrapAccount?.uri ?? '', elapsedMs });
        if (this.registered.size === this.options.count) {
          this.onMilestone({ msg: 'all registered', count: this.registered.size, elapsedMs: Date.now() - this.startedAt });
        }
      });
      device.on('registrationFailed', ({ reason }) => this.onMilestone({ msg: 'registration failed', ep, reason }));
      // Failures are retried by the device itself and reported through the milestone above.
      void device.register().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.devices.map((device) => device.stop()));
  }
}
