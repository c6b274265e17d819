/**
 * Observations kept across restarts. A notification carries only its token; a restarted
 * server that remembers token → observation can still route it (the CoAP endpoint asks
 * through onUnknownNotification), so devices need not be observed again. The store's
 * ObservationStore satisfies this interface; the services never see the store itself.
 */
import type { Observation } from '../../coap/types.js';
import type { ObservationInfo } from './observation-table.js';

export interface PersistedObservation extends ObservationInfo {
  address: { address: string; port: number };
}

export interface ObservationPersistence {
  put(observation: PersistedObservation): Promise<void>;
  remove(observationId: string): Promise<boolean>;
  removeEndpoint(endpoint: string): Promise<number>;
  list(): Promise<PersistedObservation[]>;
}

/**
 * The CoAP side of a restored observation: the endpoint no longer knows the token, so
 * there is no cancel message to send; forgetting it makes the endpoint answer the next
 * notification with RST, which ends the observation on the device (RFC 7641 §3.6).
 */
export function restoredCoapObservation(observationId: string): Observation {
  return {
    token: Buffer.from(observationId, 'hex'),
    first: undefined as unknown as Observation['first'],
    cancel: async () => {},
  };
}
