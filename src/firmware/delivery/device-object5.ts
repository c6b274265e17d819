/**
 * The Object 5 operations the driver performs on one device, over the LwM2M services'
 * DeviceClient (so queue-mode devices get them when they wake): read the status, push the
 * package, write the pull URI, execute Update or Cancel, observe State/Update Result.
 */
import type { DeviceClient } from '../../lwm2m/server/device-client.js';
import { DeviceErrorResponse } from '../../lwm2m/server/errors.js';
import { ContentFormat } from '../../lwm2m/formats/types.js';
import type { LwM2mNode, Resource, ResourceValue } from '../../lwm2m/node.js';
import type { DeviceFirmwareStatus } from './state-machine.js';

export type Object5Client = Pick<DeviceClient, 'read' | 'write' | 'execute' | 'observe' | 'cancelObservation'>;

export const Object5 = {
  package: '/5/0/0',
  packageUri: '/5/0/1',
  update: '/5/0/2',
  state: '/5/0/3',
  updateResult: '/5/0/5',
  pkgVersion: '/5/0/7',
  cancel: '/5/0/10',
  instance: '/5/0',
  deviceFirmwareVersion: '/3/0/3',
} as const;

/** Reads /5/0 in one request and picks out what the driver needs. */
export async function readFirmwareStatus(devices: Object5Client, endpoint: string, timeoutMs: number): Promise<DeviceFirmwareStatus> {
  const node = await devices.read(endpoint, Object5.instance, { timeoutMs });
  return completeFirmwareStatus(devices, endpoint, statusFromNode(node), timeoutMs);
}

/** A /5/0 status (read or observed) with the running version from Device (3) when /5/0/7 is missing. */
export async function completeFirmwareStatus(devices: Object5Client, endpoint: string, status: DeviceFirmwareStatus, timeoutMs: number): Promise<DeviceFirmwareStatus> {
  if (status.pkgVersion === undefined || status.pkgVersion === '') {
    // Devices without PkgVersion report their running version in Device (3) Firmware Version.
    try {
      const version = await devices.read(endpoint, Object5.deviceFirmwareVersion, { timeoutMs });
      if (version.kind === 'singleResource' && typeof version.value === 'string') status.pkgVersion = version.value;
    } catch {
      // No version at all: success cannot be confirmed, the state machine says so.
    }
  }
  return status;
}

/** State and Update Result from a read or notification of /5/0 (missing ones read as -1: nonsense). */
export function statusFromNode(node: LwM2mNode): DeviceFirmwareStatus {
  const resources = new Map<number, Resource>();
  if (node.kind === 'instance') for (const resource of node.resources) resources.set(resource.id, resource);
  else if (node.kind === 'singleResource' || node.kind === 'multiResource') resources.set(node.id, node);
  const single = (id: number): ResourceValue | undefined => {
    const resource = resources.get(id);
    return resource?.kind === 'singleResource' ? resource.value : undefined;
  };
  const status: DeviceFirmwareStatus = { state: toNumber(single(3)) ?? -1, result: toNumber(single(5)) ?? -1 };
  const version = single(7);
  if (typeof version === 'string' && version !== '') status.pkgVersion = version;
  const protocols = resources.get(8);
  if (protocols?.kind === 'multiResource') status.protocols = [...protocols.values.values()].map((v) => toNumber(v) ?? -1);
  else if (protocols?.kind === 'singleResource') status.protocols = [toNumber(protocols.value) ?? -1];
  const delivery = toNumber(single(9));
  if (delivery !== undefined) status.deliveryMethod = delivery;
  const defer = toNumber(single(13));
  if (defer !== undefined) status.maxDeferSec = defer;
  return status;
}

export async function pushPackage(
  devices: Object5Client,
  endpoint: string,
  bytes: Buffer,
  options: { timeoutMs: number; blockSzx: number; onProgress: (acknowledged: number, total: number) => void },
): Promise<void> {
  await devices.write(
    endpoint,
    Object5.package,
    { kind: 'singleResource', id: 0, type: 'opaque', value: bytes },
    { mode: 'replace', format: ContentFormat.OPAQUE, timeoutMs: options.timeoutMs, blockSzx: options.blockSzx, onProgress: options.onProgress },
  );
}

export async function writePackageUri(devices: Object5Client, endpoint: string, uri: string, timeoutMs: number): Promise<void> {
  await devices.write(endpoint, Object5.packageUri, { kind: 'singleResource', id: 1, type: 'string', value: uri }, { mode: 'replace', format: ContentFormat.TEXT, timeoutMs });
}

/** LwM2M: writing an empty Package URI puts Object 5 back to Idle (and cancels a download). */
export async function resetObject5(devices: Object5Client, endpoint: string, timeoutMs: number): Promise<void> {
  await writePackageUri(devices, endpoint, '', timeoutMs);
}

export async function executeUpdate(devices: Object5Client, endpoint: string, timeoutMs: number): Promise<void> {
  await devices.execute(endpoint, Object5.update, undefined, { timeoutMs });
}

/** Cancel (/5/0/10, LwM2M 1.2); devices without it are reset through an empty Package URI. */
export async function cancelOnDevice(devices: Object5Client, endpoint: string, timeoutMs: number): Promise<void> {
  try {
    await devices.execute(endpoint, Object5.cancel, undefined, { timeoutMs });
  } catch (err) {
    if (!(err instanceof DeviceErrorResponse)) throw err;
    await resetObject5(devices, endpoint, timeoutMs);
  }
}

function toNumber(value: ResourceValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
