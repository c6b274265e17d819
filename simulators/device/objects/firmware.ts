/**
 * Object 5 Firmware Update, resources only: the update state machine comes with the
 * firmware issue. Until then Update is refused unless a package was downloaded, which
 * never happens, as a real device in state Idle would refuse it.
 */
import { executableResource, multiResource, NotAllowedError, SimInstance, singleInstanceObject, valueResource, type SimObject, type SimResource } from './base.js';

export const FIRMWARE_STATE = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;
const PROTOCOL_COAP = 0;
const PROTOCOL_COAPS = 1;
const DELIVERY_PULL_AND_PUSH = 2;

/** Package (0), write-only: only the size of a pushed package is kept, not its bytes. */
function packageResource(): SimResource {
  let receivedBytes = 0;
  return {
    id: 0,
    type: 'opaque',
    operations: 'W',
    multiple: false,
    read: () => {
      throw new NotAllowedError(`package is write-only (${receivedBytes} bytes received)`);
    },
    write: (value) => {
      receivedBytes = Buffer.isBuffer(value) ? value.length : 0;
    },
    execute: () => {
      throw new NotAllowedError('package is not executable');
    },
  };
}

export function firmwareObject(): SimObject {
  const state = valueResource(3, 'integer', 'R', FIRMWARE_STATE.idle);
  const instance = new SimInstance(0, [
    packageResource(),
    valueResource(1, 'string', 'RW', ''),
    executableResource(2, () => {
      if (state.read() !== FIRMWARE_STATE.downloaded) throw new NotAllowedError('no firmware downloaded');
    }),
    state,
    valueResource(5, 'integer', 'R', 0),
    valueResource(6, 'string', 'R', ''),
    valueResource(7, 'string', 'R', ''),
    multiResource(8, 'integer', 'R', [PROTOCOL_COAP, PROTOCOL_COAPS]),
    valueResource(9, 'integer', 'R', DELIVERY_PULL_AND_PUSH),
  ]);
  return singleInstanceObject(5, instance);
}
