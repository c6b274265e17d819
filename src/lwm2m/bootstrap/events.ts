/** What the bootstrap server reports (on the server's event bus, hence on the SSE stream). */
import type { BootstrapLwm2mVersion } from './content-format.js';
import type { StepKind } from './plan.js';

export interface BootstrapStepRecord {
  kind: StepKind;
  path: string;
  attempt: number;
  /** "2.04", "4.06", "timeout", "reset", "aborted". */
  outcome: string;
}

export interface BootstrapStartedEvent {
  endpoint: string;
  /** "ip:port" of the device. */
  address: string;
  version: BootstrapLwm2mVersion;
  contentFormat: number;
}

export interface BootstrapEndedEvent {
  endpoint: string;
  address: string;
  result: 'finished' | 'failed';
  /** Why it failed. */
  reason?: string;
  /** The step that failed, e.g. "write /1/0". */
  failedStep?: string;
  startedAt: number;
  endedAt: number;
  steps: BootstrapStepRecord[];
}

/** A bootstrap request we refused before any session started (no ep, unknown endpoint...). */
export interface BootstrapRejectedEvent {
  /** Undefined when the request carried no ep. */
  endpoint: string | undefined;
  address: string;
  reason: string;
}
