export { BootstrapServer, type BootstrapServerOptions, type BootstrapSessionStatus } from './bootstrap-server.js';
export {
  BootstrapConfigError,
  parseBootstrapConfig,
  redactBootstrapConfig,
  deletePathsOf,
  type BootstrapConfig,
  type BootstrapServerAccount,
  type BootstrapAclEntry,
  type BootstrapSecurityMode,
} from './config.js';
export { bootstrapFormat, versionOfRequest, versionOfDiscover, type BootstrapLwm2mVersion } from './content-format.js';
export type { BootstrapEndedEvent, BootstrapRejectedEvent, BootstrapStartedEvent, BootstrapStepRecord } from './events.js';
export { buildPlan, discoveredAccounts, type BootstrapStep } from './plan.js';
export { nextSessionState, isTerminal, InvalidSessionTransitionError, type SessionState, type SessionEvent, type SessionPhase } from './session-machine.js';
export { BootstrapSession, DEFAULT_RETRIES } from './session.js';
export { startBootstrapListener, DEFAULT_BOOTSTRAP_PORT, type BootstrapListener, type BootstrapListenerOptions } from './listener.js';
