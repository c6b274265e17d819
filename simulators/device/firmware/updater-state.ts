/**
 * The device's own Object 5 state machine (LwM2M 1.1 Figure E.6.1-1): State 0 Idle,
 * 1 Downloading, 2 Downloaded, 3 Updating, and the Update Result each edge leaves.
 */
export const DeviceFwState = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;

export type UpdaterEvent =
  | { kind: 'download-started' }
  | { kind: 'download-complete' }
  | { kind: 'download-failed'; result: number }
  | { kind: 'update' }
  | { kind: 'deferred' }
  | { kind: 'installed' }
  | { kind: 'install-failed'; result: number }
  | { kind: 'reset' }
  | { kind: 'cancelled' };

export interface UpdaterState {
  state: number;
  result: number;
}

export class UpdaterTransitionError extends Error {
  override readonly name = 'UpdaterTransitionError';
}

export function nextUpdaterState(current: UpdaterState, event: UpdaterEvent): UpdaterState {
  const { state } = current;
  switch (event.kind) {
    case 'download-started':
      if (state === DeviceFwState.idle || state === DeviceFwState.downloaded) return { state: DeviceFwState.downloading, result: 0 };
      break;
    case 'download-complete':
      if (state === DeviceFwState.downloading) return { state: DeviceFwState.downloaded, result: 0 };
      break;
    case 'download-failed':
      if (state === DeviceFwState.downloading || state === DeviceFwState.idle) return { state: DeviceFwState.idle, result: event.result };
      break;
    case 'update':
      if (state === DeviceFwState.downloaded) return { state: DeviceFwState.updating, result: current.result === 11 ? 0 : current.result };
      break;
    case 'deferred':
      if (state === DeviceFwState.downloaded) return { state: DeviceFwState.downloaded, result: 11 };
      break;
    case 'installed':
      if (state === DeviceFwState.updating) return { state: DeviceFwState.idle, result: 1 };
      break;
    case 'install-failed':
      if (state === DeviceFwState.updating) return { state: DeviceFwState.idle, result: event.result };
      break;
    case 'reset':
      if (state !== DeviceFwState.updating) return { state: DeviceFwState.idle, result: 0 };
      break;
    case 'cancelled':
      if (state !== DeviceFwState.updating) return { state: DeviceFwState.idle, result: 10 };
      break;
  }
  throw new UpdaterTransitionError(`${event.kind} is not possible in State ${state}`);
}
