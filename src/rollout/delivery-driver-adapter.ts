/**
 * The DeliveryDriver over the Object 5 DeliveryService (src/firmware/delivery):
 * - pause/resume use the service's own: a push stops after the block in flight and goes
 *   on from the acknowledged offset; a pulling device pauses by itself when it turns busy;
 * - holdUpdate is honoured: the service keeps the downloaded image until releaseUpdate();
 * - bandwidth is kept by the scheduler through concurrency (no per-transfer rate).
 * Severity (/5/0/11) is written before each start.
 */
import type { DeliveryService } from '../firmware/delivery/delivery-service.js';
import type { DeliveryRecord } from '../firmware/delivery/delivery-record.js';
import type { DeviceClient } from '../lwm2m/server/device-client.js';
import { ContentFormat } from '../lwm2m/formats/types.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { DeliveryDriver, DriverEvent, DriverTransferStatus, TransferRequest } from './driver.js';

/**
 * The reason older versions gave when they paused by cancelling: such a delivery is
 * still reported as paused after an upgrade, and resume() starts it again.
 */
export const PAUSE_REASON = 'paused by the rollout scheduler: the device is busy';

export interface DeliveryDriverAdapterOptions {
  deliveries: Pick<DeliveryService, 'start' | 'cancel' | 'latest' | 'events' | 'pause' | 'resume' | 'releaseUpdate'>;
  devices: Pick<DeviceClient, 'write'>;
  requestTimeoutMs?: number;
  logger?: Logger;
}

export class DeliveryDriverAdapter implements DeliveryDriver {
  readonly capabilities = { pause: true, holdUpdate: true, rateLimit: false };
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  /** Deliveries this adapter started, by endpoint → delivery id. */
  private readonly ours = new Map<string, string>();
  private readonly unsubscribe: Array<() => void>;
  private readonly logger: Logger;

  constructor(private readonly options: DeliveryDriverAdapterOptions) {
    this.logger = options.logger ?? silentLogger;
    this.unsubscribe = [
      options.deliveries.events.on('transition', ({ delivery, from, to }) => this.onTransition(delivery, from, to)),
      options.deliveries.events.on('progress', ({ deliveryId, endpoint, bytes, total }) => {
        if (this.ours.get(endpoint) === deliveryId) this.emit({ kind: 'progress', endpoint, bytes, total });
      }),
    ];
  }

  close(): void {
    for (const off of this.unsubscribe) off();
  }

  async start(request: TransferRequest): Promise<void> {
    const { endpoint } = request;
    await this.options.devices
      .write(endpoint, '/5/0/11', { kind: 'singleResource', id: 11, type: 'integer', value: request.severity }, { mode: 'replace', format: ContentFormat.TEXT, timeoutMs: this.options.requestTimeoutMs ?? 30_000 })
      .catch((err: unknown) => this.logger.debug({ ep: endpoint, reason: String(err) }, 'could not write Severity /5/0/11'));
    const record = await this.options.deliveries.start(endpoint, request.imageId, 'auto', { holdUpdate: request.holdUpdate });
    this.ours.set(endpoint, record.id);
  }

  async pause(endpoint: string): Promise<void> {
    if (!this.ours.has(endpoint)) return;
    await this.options.deliveries.pause(endpoint);
  }

  async resume(endpoint: string): Promise<void> {
    if (await this.options.deliveries.resume(endpoint)) return;
    const latest = await this.options.deliveries.latest(endpoint);
    if (!latest) throw new Error(`no delivery to resume for "${endpoint}"`);
    if (latest.state === 'failed' && latest.outcome === 'cancelled' && latest.reason === PAUSE_REASON) {
      // Paused by cancelling (an older version): start it again, holding Update as the scheduler asks.
      const record = await this.options.deliveries.start(endpoint, latest.imageId, 'auto', { holdUpdate: true });
      this.ours.set(endpoint, record.id);
    }
    // Otherwise it was not paused (already going, or finished): its events tell the scheduler.
  }

  setRate(): void {
    // Not supported: the scheduler keeps the budget by limiting concurrency.
  }

  async releaseUpdate(endpoint: string): Promise<void> {
    await this.options.deliveries.releaseUpdate(endpoint);
  }

  async cancel(endpoint: string, reason: string): Promise<void> {
    await this.options.deliveries.cancel(endpoint, reason);
  }

  async status(endpoint: string, imageId: string): Promise<DriverTransferStatus> {
    const record = await this.options.deliveries.latest(endpoint);
    if (!record || record.imageId !== imageId) return { state: 'none', bytes: 0, total: 0 };
    this.ours.set(endpoint, record.id);
    const base = { bytes: record.bytes, total: record.total };
    switch (record.state) {
      case 'pending':
      case 'inspecting':
      case 'transferring':
        return { state: 'transferring', ...base };
      case 'paused':
        return { state: 'paused', ...base };
      case 'held':
      case 'downloaded':
        return { state: 'downloaded', ...base };
      case 'updating':
      case 'verifying':
      case 'deferred':
        return { state: 'updating', ...base };
      case 'succeeded':
        return { state: 'succeeded', ...base };
      default:
        if (record.outcome === 'cancelled' && record.reason === PAUSE_REASON) return { state: 'paused', ...base };
        return { state: 'failed', ...base, reason: record.reason ?? 'failed', reverted: reverted(record) };
    }
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onTransition(delivery: DeliveryRecord, from: string, to: string): void {
    const { endpoint } = delivery;
    if (this.ours.get(endpoint) !== delivery.id) return;
    // held → downloaded is our own releaseUpdate(): the scheduler already knows the image is there.
    if (to === 'held' || (to === 'downloaded' && from !== 'held')) this.emit({ kind: 'downloaded', endpoint });
    else if (to === 'succeeded') this.emit({ kind: 'succeeded', endpoint });
    else if (to === 'failed') {
      this.emit({ kind: 'failed', endpoint, reason: delivery.reason ?? `delivery failed (${delivery.outcome ?? 'unknown'})`, reverted: reverted(delivery) });
    }
  }

  private emit(event: DriverEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** The device installed the image and came back on the old one. */
function reverted(record: DeliveryRecord): boolean {
  return record.outcome === 'wrong-version' || record.outcome === 'update-failed';
}
