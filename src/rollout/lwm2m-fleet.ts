/**
 * The scheduler's view of the real fleet, learned over LwM2M: when a device registers we
 * read its Device object (type /3/0/17, running version /3/0/3, timezone /3/0/15), correct
 * its clock by writing Current Time (/3/0/13), and observe our Update Discretion object
 * (/26250/0) when it has one. Queue-mode devices count as asleep between their wake-ups.
 */
import type { Lwm2mEvents } from '../lwm2m/server/events.js';
import type { DeviceClient } from '../lwm2m/server/device-client.js';
import { supportedObjects, type Registration } from '../lwm2m/server/registration.js';
import type { LwM2mNode, Resource, ResourceValue } from '../lwm2m/node.js';
import type { PresenceState } from '../lwm2m/server/presence.js';
import { ContentFormat } from '../lwm2m/formats/types.js';
import type { Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { DiscretionSource, DiscretionStatus } from './discretion.js';
import { MemoryInventory, type DeviceFacts, type DeviceInventory } from './population.js';

export const DISCRETION_OBJECT = 26250;
const OPEN_ENDED = 4294967295;

export interface Lwm2mFleetViewOptions {
  events: Pick<Lwm2mEvents, 'on'>;
  devices: Pick<DeviceClient, 'read' | 'write' | 'observe'>;
  registrations: () => Iterable<Registration>;
  presence: (endpoint: string) => PresenceState | undefined;
  /** The scheduler's clock: status times are kept in it. */
  clock: Clock;
  /** Real time, written to the devices' /3/0/13. */
  wallClock: Clock;
  /** The scheduler's clock runs this many times faster than real time (a device's 60 s window is 60×N s to it). */
  timeScale?: number;
  /**
   * Whether to ask every registering device what it is now (a campaign is active). Otherwise
   * only devices with our discretion object are asked at once, and the rest when a campaign
   * is created (refresh()), so a server without campaigns adds no traffic.
   */
  eager?: () => boolean;
  /** Clock drift beyond which Current Time is written (default 2 s). */
  maxDriftMs?: number;
  requestTimeoutMs?: number;
  logger?: Logger;
  /** The security profile the device is paired with (src/firmware/profiles), for `target.profiles`. */
  profileOf?: (endpoint: string) => string | undefined;
  /** The operator's tags of the device (device-tags.ts), for `target.tags`. */
  tagsOf?: (endpoint: string) => readonly string[];
  /** Whether the endpoint is registered now: only registered devices make a population. */
  registered?: (endpoint: string) => boolean;
}

export class Lwm2mFleetView implements DeviceInventory {
  private readonly inventory = new MemoryInventory();
  private readonly statuses = new Map<string, DiscretionStatus>();
  private readonly listeners = new Set<(endpoint: string) => void>();
  private readonly observations = new Map<string, string>();
  private readonly learned = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly logger: Logger;
  private readonly timeoutMs: number;

  constructor(private readonly options: Lwm2mFleetViewOptions) {
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Listens to the LwM2M events and learns the devices already registered (after a restart). */
  start(): void {
    const { events } = this.options;
    this.unsubscribe.push(
      events.on('registered', ({ registration }) => this.seen(registration)),
      events.on('awake', ({ endpoint }) => this.setAsleep(endpoint, false)),
      events.on('sleeping', ({ endpoint }) => this.setAsleep(endpoint, true)),
      events.on('notification', (event) => {
        if (this.observations.get(event.endpoint) !== event.observationId || !event.node) return;
        this.setStatus(event.endpoint, this.parse(event.endpoint, event.node));
      }),
    );
    for (const registration of this.options.registrations()) this.seen(registration);
  }

  /** Asks every registered device not asked yet (before a campaign's population is drawn). */
  async refresh(): Promise<void> {
    // The live registrations, not a copy: a device that left is not asked.
    const waiting = [...this.options.registrations()].filter((r) => !this.learned.has(r.endpoint));
    const parallel = 64;
    for (let start = 0; start < waiting.length; start += parallel) {
      await Promise.all(waiting.slice(start, start + parallel).map((r) => this.learn(r, 5_000)));
    }
  }

  private seen(registration: Registration): void {
    // A device that registers again may run another version now: ask again.
    this.learned.delete(registration.endpoint);
    // Listed once learned, so a device joins running campaigns with its type and version known.
    if (this.options.eager?.() || supportedObjects(registration).has(DISCRETION_OBJECT)) void this.learn(registration);
  }

  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** The registered devices learned so far, with their profile and tags as they are now. */
  *list(): Iterable<DeviceFacts> {
    const { registered } = this.options;
    for (const facts of this.inventory.list()) if (!registered || registered(facts.endpoint)) yield this.targeting(facts);
  }

  get(endpoint: string): DeviceFacts | undefined {
    const facts = this.inventory.get(endpoint);
    return facts && this.targeting(facts);
  }

  onAdded(listener: (facts: DeviceFacts) => void): () => void {
    return this.inventory.onAdded((facts) => listener(this.targeting(facts)));
  }

  /** Profile and tags are asked when needed, not kept: an operator may change them at any time. */
  private targeting(facts: DeviceFacts): DeviceFacts {
    const { profileOf, tagsOf } = this.options;
    if (!profileOf && !tagsOf) return facts;
    const profile = profileOf?.(facts.endpoint);
    const tags = tagsOf?.(facts.endpoint);
    return { ...facts, ...(profile !== undefined ? { profile } : {}), ...(tags !== undefined && tags.length > 0 ? { tags } : {}) };
  }

  /** What the devices report about being disturbed (the scheduler's DiscretionSource). */
  readonly discretion: DiscretionSource = {
    get: (endpoint) => this.statuses.get(endpoint),
    onChange: (listener) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
  };

  /** Reads what the device is and runs; corrects its clock; observes its discretion object. */
  async learn(registration: Registration, timeoutMs = this.timeoutMs): Promise<void> {
    const { endpoint } = registration;
    const { devices } = this.options;
    this.learned.add(endpoint);
    const facts: DeviceFacts = { endpoint, ...this.inventory.get(endpoint) };
    let drift = 0;
    try {
      const node = await devices.read(endpoint, '/3/0', { timeoutMs });
      const value = (id: number): ResourceValue | undefined => single(node, id);
      const type = value(17);
      const version = value(3);
      if (typeof type === 'string' && type !== '') facts.deviceType = type;
      if (typeof version === 'string' && version !== '') facts.version = version;
      const timezone = value(15);
      if (typeof timezone === 'string' && timezone !== '') this.mergeStatus(endpoint, { timezone });
      const deviceTime = value(13);
      if (deviceTime instanceof Date) drift = deviceTime.getTime() - this.options.wallClock.now();
    } catch (err) {
      this.learned.delete(endpoint);
      this.logger.debug({ ep: endpoint, reason: String(err) }, 'could not read /3/0');
    }
    this.inventory.put(facts);
    if (registration.queueMode) this.mergeStatus(endpoint, { asleep: this.options.presence(endpoint) === 'sleeping' });
    // Devices whose clock drifts are put right when they register.
    if (Math.abs(drift) > (this.options.maxDriftMs ?? 2000)) {
      const now = new Date(Math.floor(this.options.wallClock.now() / 1000) * 1000);
      devices
        .write(endpoint, '/3/0/13', { kind: 'singleResource', id: 13, type: 'time', value: now }, { mode: 'replace', format: ContentFormat.TEXT, timeoutMs })
        .catch((err: unknown) => this.logger.debug({ ep: endpoint, reason: String(err) }, 'could not write /3/0/13'));
    }
    if (!supportedObjects(registration).has(DISCRETION_OBJECT)) return;
    try {
      const result = await devices.observe(endpoint, `/${DISCRETION_OBJECT}/0`, { timeoutMs });
      if (result.observationId) this.observations.set(endpoint, result.observationId);
      this.setStatus(endpoint, this.parse(endpoint, result.node));
    } catch (err) {
      this.logger.debug({ ep: endpoint, reason: String(err) }, `could not observe /${DISCRETION_OBJECT}/0`);
    }
  }

  /** Object 26250 → status in the scheduler's clock. */
  parse(endpoint: string, node: LwM2mNode): DiscretionStatus {
    const now = this.options.clock.now();
    const scale = this.options.timeScale ?? 1;
    const previous = this.statuses.get(endpoint);
    const value = (id: number): ResourceValue | undefined => single(node, id);
    const idle = value(0) === 0 || value(0) === 0n;
    const status: DiscretionStatus = { idle };
    if (previous?.timezone) status.timezone = previous.timezone;
    if (previous?.asleep !== undefined) status.asleep = previous.asleep;
    const reason = value(1);
    if (typeof reason === 'string' && reason !== '') status.busyReason = reason;
    const window = num(value(2));
    if (idle && window !== undefined && window < OPEN_ENDED) status.idleUntil = now + window * 1000 * scale;
    const wake = value(3);
    if (wake instanceof Date && wake.getTime() > 0) status.nextWakeAt = wake.getTime();
    const battery = num(value(5));
    if (battery !== undefined) status.batteryPercent = battery;
    const external = value(6);
    if (typeof external === 'boolean') status.externalPower = external;
    const deferred = value(7);
    if (deferred instanceof Date && deferred.getTime() > this.options.wallClock.now()) {
      status.deferredUntil = now + (deferred.getTime() - this.options.wallClock.now()) * scale;
    }
    const gateway = value(8);
    if (typeof gateway === 'string' && gateway !== '') status.gateway = gateway;
    return status;
  }

  private setAsleep(endpoint: string, asleep: boolean): void {
    if (!this.inventory.get(endpoint)) return;
    this.mergeStatus(endpoint, { asleep });
  }

  private mergeStatus(endpoint: string, changes: Partial<DiscretionStatus>): void {
    this.setStatus(endpoint, { idle: true, ...this.statuses.get(endpoint), ...changes });
  }

  private setStatus(endpoint: string, status: DiscretionStatus): void {
    this.statuses.set(endpoint, status);
    for (const listener of this.listeners) listener(endpoint);
  }
}

function single(node: LwM2mNode, id: number): ResourceValue | undefined {
  let resource: Resource | undefined;
  if (node.kind === 'instance') resource = node.resources.find((r) => r.id === id);
  else if (node.kind === 'singleResource' && node.id === id) resource = node;
  return resource?.kind === 'singleResource' ? resource.value : undefined;
}

function num(value: ResourceValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
