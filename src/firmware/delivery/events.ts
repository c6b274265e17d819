/** What the delivery service tells the API (server-sent events) and the rollout scheduler. */
import { EventEmitter } from 'node:events';
import type { DeliveryRecord, DeliveryState } from './delivery-record.js';

export interface FirmwareDeliveryEventMap {
  /** Every state change, with the record after it. */
  transition: { delivery: DeliveryRecord; from: DeliveryState; to: DeliveryState; event: string };
  /** Bytes moved during the transfer (throttled). */
  progress: { deliveryId: string; endpoint: string; bytes: number; total: number };
}

export type FirmwareDeliveryEventName = keyof FirmwareDeliveryEventMap;

export class FirmwareDeliveryEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Any number of API streams and schedulers may listen.
    this.emitter.setMaxListeners(0);
  }

  on<K extends FirmwareDeliveryEventName>(name: K, listener: (event: FirmwareDeliveryEventMap[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  emit<K extends FirmwareDeliveryEventName>(name: K, event: FirmwareDeliveryEventMap[K]): void {
    for (const listener of this.emitter.listeners(name)) {
      try {
        (listener as (e: FirmwareDeliveryEventMap[K]) => void)(event);
      } catch {
        // A listener's bug must not stop a delivery.
      }
    }
  }
}
