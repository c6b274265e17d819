export { SimulatedDevice, parseServerUri, RegistrationLostError } from './simulated-device.js';
export type { SimulatedDeviceOptions, DeviceEvents, QueueCycle, RequestSummary } from './simulated-device.js';
export { nextState, allowedTransitions, InvalidTransitionError } from './lifecycle.js';
export type { DeviceState, DeviceEvent } from './lifecycle.js';
export type { Lwm2mVersion } from './content.js';
