/** A delivery record in any state, for the state-machine tests; `changes` override the defaults. */
import type { DeliveryRecord, DeliveryState } from '../../../src/firmware/delivery/delivery-record.js';

export function deliveryRecord(state: DeliveryState, changes: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return {
    id: 'd1', endpoint: 'ep', imageId: 'img', imageVersion: '2.0', imageName: 'app', requestedMethod: 'auto',
    method: 'pull', state, createdAt: 0, updatedAt: 0, stateSince: 0, bytes: 0, total: 100, result: undefined,
    deviceState: undefined, outcome: undefined, reason: undefined, attempts: 1, deferrals: 0, pullToken: 't',
    previousVersion: undefined, maxDeferMs: undefined, retryOnRegistration: false, history: [], ...changes,
  };
}
