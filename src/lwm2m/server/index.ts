export { Lwm2mServer, DEFAULT_SWEEP_INTERVAL_MS, type Lwm2mServerOptions } from './lwm2m-server.js';
export type { CoapRequester } from './coap-requester.js';
export {
  DeviceClient,
  type PathInput,
  type RequestOptions,
  type ReadOptions,
  type WriteOptions,
  type NotificationAttributes,
  type ObserveResult,
  type CompositeObserveResult,
} from './device-client.js';
export * from './errors.js';
export { Lwm2mEvents, type Lwm2mEventMap, type Lwm2mEventName, type Lwm2mListener, type NotificationEvent } from './events.js';
export type { ObservationInfo } from './observation-table.js';
export { nextPresence, type PresenceState, type PresenceInput } from './presence.js';
export {
  addressKey,
  supportedObjects,
  availableInstances,
  lwm2mIdsOfLink,
  type Registration,
  type Lwm2mVersion,
} from './registration.js';
export { MemoryRegistrationStore, type RegistrationStore } from './registration-store.js';
export { DEFAULT_EXPIRY_GRACE_MS } from './registration-service.js';
export { DEFAULT_LIFETIME_SEC, ALL_VERSIONS } from './registration-request.js';
export { DEFAULT_AWAKE_TIME_MS, type QueuedRequestDescription, type SerializableRequest } from './request-queue.js';
export { defaultFormat, announcedFormats } from './content-format.js';
