/** Firmware delivery through Object 5: the state machine, its driver, and the pull host. */
export { DeliveryService, DeliveryConflictError, type DeliveryServiceOptions, type ImageVerifier, type StartOptions } from './delivery-service.js';
export { transition, type DeliveryCommand, type DeliveryEvent, type DeviceFirmwareStatus, type Transition } from './state-machine.js';
export {
  TERMINAL_STATES,
  type DeliveryMethod,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryState,
  type HistoryEntry,
  type RequestedMethod,
} from './delivery-record.js';
export { pushInBlocks, type BlockRequester, type BlockPushOptions, type BlockPushResult } from './block-push.js';
export { MemoryDeliveryStore, type DeliveryStore } from './delivery-store.js';
export { FirmwareHost, PULL_PATH_PREFIX } from './firmware-host.js';
export { FirmwareDeliveryEvents, type FirmwareDeliveryEventMap } from './events.js';
export { DEFAULT_POLICY, phaseTimeoutMs, type DeliveryPolicy } from './policy.js';
export { chooseMethod, DeliveryMethodSupport, Protocol, type MethodCapabilities, type MethodChoice } from './method-choice.js';
export { updateResultInfo, FirmwareState, UPDATE_RESULT_CODES, type UpdateOutcome, type UpdateResultInfo } from './update-result.js';
export { statusFromNode, readFirmwareStatus, Object5, type Object5Client } from './device-object5.js';
export { createFirmwareModule, type FirmwareModule, type FirmwareModuleOptions } from './firmware-module.js';
