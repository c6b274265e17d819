/**
 * The DeliveryDriver over the Object 5 DeliveryService (src/firmware/delivery). That
 * service has no pause of a transfer and runs Update as soon as the image is there, so:
 * - pause cancels the delivery (the device stops receiving at once) and resume starts a
 *   new one: the bytes are sent again, never while the device is busy;
 * - holdUpdate is not honoured (capabilities say so; the scheduler then asks for a window
 *   long enough for transfer and install together);
 * - bandwidth is kept by the scheduler through concurrency (no per-transfer rate).
 * Severity (/5/0/11) is written before each start.
 */
import type { DeliveryService } from '../firmware/delivery/delivery-service.js';
import type { DeliveryRecord } from '../firmware/delivery/delivery-record.js';
import type { DeviceClient } from '../lwm2m/server/device-client.js';
import { ContentFormat } from '../lwm2m/formats/types.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { DeliveryDriver, DriverEvent, DriverTransferStatus, TransferRequest } from './driver.js';

/** The reason given to the delivery service when the scheduler pauses a transfer (recognised after a restart). */
export const PAUSE_REASON = 'paused by the rollout scheduler: the device is busy';

export interface DeliveryDriverAdapterOptions {
  deliveries: Pick<DeliveryService, 'start' | 'cancel' | 'latest' | 'events'>;
  devices: Pick<DeviceClient, 'write'>;
  requestTimeoutMs?: number;
  logger?: Logger;
}

export class DeliveryDriverAdapter implements DeliveryDriver {
  readonly capabilities = { pause: false, holdUpdate: false, rateLimit: false };
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  /** Deliveries this adapter started, by endpoint → delivery id. */
  private readonly ours = new Map<string, string>();
  private readonly paused = new Set<string>();
  private readonly unsubscribe: Array<() => void>;
  private readonly logger: Logger;

  constructor(private readonly options: DeliveryDriverAdapterOptions) {
    this.logger = options.logger ?? silentLogger;
    this.unsubscribe = [
      options.deliveries.events.on('transition', ({ delivery, to }) => this.onTransition(delivery, to)),
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
    this.paused.delete(endpoint);
    await this.options.devices
      .write(endpoint, '/5/0/11', { kind: 'singleResource', id: 11, type: 'integer', value: request.severity }, { mode: 'replace', format: ContentFormat.TEXT, timeoutMs: this.options.requestTimeoutMs ?? 30_000 })
      .catch((err: unknown) => this.logger.debug({ ep: endpoint, reason: String(err) }, 'could not write Severity /5/0/11'));
    const record = await this.options.deliveries.start(endpoint, request.imageId, 'auto');
    this.ours.set(endpoint, record.id);
  }

  async pause(endpoint: string): Promise<void> {
    if (!this.ours.has(endpoint)) return;
    this.paused.add(endpoint);
    await this.options.deliveries.cancel(endpoint, PAUSE_REASON);
  }

  async resume(endpoint: string): Promise<void> {
    const latest = await this.options.deliveries.latest(endpoint);
    if (!latest) throw new Error(`no delivery to resume for "${endpoint}"`);
    this.paused.delete(endpoint);
    const record = await this.options.deliveries.start(endpoint, latest.imageId, 'auto');
    this.ours.set(endpoint, record.id);
  }

  setRate(): void {
    // Not supported: the scheduler keeps the budget by limiting concurrency.
  }

  async releaseUpdate(): Promise<void> {
    // The delivery service executes Update itself once the image is there.
  }

  async cancel(endpoint: string, reason: string): Promise<void> {
    this.paused.delete(endpoint);
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

  private onTransition(delivery: DeliveryRecord, to: string): void {
    const { endpoint } = delivery;
    if (this.ours.get(endpoint) !== delivery.id) return;
    if (to === 'downloaded') this.emit({ kind: 'downloaded', endpoint });
    else if (to === 'succeeded') this.emit({ kind: 'succeeded', endpoint });
    else if (to === 'failed') {
      // Our own pause ends the delivery as "cancelled": that is not a failure of the device.
      if (this.paused.has(endpoint) && delivery.outcome === 'cancelled') return;
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
