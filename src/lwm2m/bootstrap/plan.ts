/**
 * The requests of one bootstrap session, in the order LwM2M 1.1 §6.1.7 gives them:
 * optional Bootstrap-Discover, Bootstrap-Delete, Bootstrap-Write of Security then Server
 * (then ACL) instances, Bootstrap-Finish. The plan's shape (how many steps of which kind)
 * is fixed when the session starts; discovery only changes which instance ids are written.
 */
import type { WebLink } from '../link-format.js';
import type { ObjectInstance } from '../node.js';
import { parsePath, type LwM2mPath } from '../path.js';
import { deletePathsOf, type BootstrapConfig } from './config.js';
import type { BootstrapLwm2mVersion } from './content-format.js';
import { aclInstance, securityInstance, serverInstance } from './instances.js';

export type BootstrapStep =
  | { kind: 'discover'; path: string }
  | { kind: 'delete'; path: string }
  | { kind: 'write'; path: string; target: LwM2mPath; node: ObjectInstance }
  | { kind: 'finish'; path: '/bs' };

export type StepKind = BootstrapStep['kind'];

/** What Bootstrap-Discover told us that matters for the writes. */
export interface DiscoveredAccounts {
  /** Security instance ids that hold a bootstrap-server account (no `ssid` on their link). */
  bootstrapSecurityIds: number[];
}

/**
 * From a 1.1 Bootstrap-Discover answer: Security instances with an `ssid` are LwM2M server
 * accounts; the one without is the bootstrap account, which we must not overwrite.
 */
export function discoveredAccounts(links: readonly WebLink[]): DiscoveredAccounts {
  const bootstrapSecurityIds: number[] = [];
  for (const link of links) {
    const match = /^\/0\/(\d+)$/.exec(link.uri);
    if (match && link.params.ssid === undefined) bootstrapSecurityIds.push(Number(match[1]));
  }
  return { bootstrapSecurityIds };
}

/** The smallest ids not taken, one per account without a configured id. */
function chooseIds(configured: (number | undefined)[], taken: Set<number>): number[] {
  for (const id of configured) if (id !== undefined) taken.add(id);
  let next = 0;
  return configured.map((id) => {
    if (id !== undefined) return id;
    while (taken.has(next)) next++;
    taken.add(next);
    return next;
  });
}

export function buildPlan(
  config: BootstrapConfig,
  version: BootstrapLwm2mVersion,
  discovered: DiscoveredAccounts | undefined,
): BootstrapStep[] {
  const steps: BootstrapStep[] = [];
  // Bootstrap-Discover exists from LwM2M 1.1 on.
  if ((config.discover ?? true) && version !== '1.0') steps.push({ kind: 'discover', path: '/' });
  for (const path of deletePathsOf(config)) steps.push({ kind: 'delete', path });

  // Without discovery we assume the usual layout: the bootstrap account is /0/0.
  const bootstrapIds = discovered?.bootstrapSecurityIds ?? [0];
  const securityIds = chooseIds(config.servers.map((s) => s.securityInstanceId), new Set(bootstrapIds));
  const serverIds = chooseIds(config.servers.map((s) => s.serverInstanceId), new Set());
  const write = (objectId: number, node: ObjectInstance): void => {
    const path = `/${objectId}/${node.id}`;
    steps.push({ kind: 'write', path, target: parsePath(path), node });
  };
  config.servers.forEach((account, i) => write(0, securityInstance(securityIds[i], account)));
  config.servers.forEach((account, i) => write(1, serverInstance(serverIds[i], account)));
  (config.acl ?? []).forEach((entry, i) => write(2, aclInstance(i, entry)));
  steps.push({ kind: 'finish', path: '/bs' });
  return steps;
}
