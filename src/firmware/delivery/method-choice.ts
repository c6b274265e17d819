/**
 * Push or pull, from what the device says it supports: Firmware Update Delivery Method
 * (/5/0/9: 0 pull only, 1 push only, 2 both) and Protocol Support (/5/0/8: 0 CoAP, 1 CoAPS,
 * 2 HTTP, 3 HTTPS, 4 CoAP/TCP, 5 CoAP/TLS). An operator may force one; we refuse what the
 * device cannot do instead of sending it a request it must reject.
 */
import type { DeliveryMethod, RequestedMethod } from './delivery-record.js';

export const DeliveryMethodSupport = { pullOnly: 0, pushOnly: 1, both: 2 } as const;
export const Protocol = { coap: 0, coaps: 1 } as const;

export interface MethodCapabilities {
  /** /5/0/9; undefined when the device does not expose it (then both are assumed, as LwM2M 1.0 devices do). */
  deliveryMethod: number | undefined;
  /** /5/0/8; undefined when absent. */
  protocols: readonly number[] | undefined;
}

export type MethodChoice = { method: DeliveryMethod } | { error: string };

/** The schemes we can host a pull URI on. */
export interface HostedSchemes {
  coap: boolean;
  coaps: boolean;
}

export function chooseMethod(requested: RequestedMethod, caps: MethodCapabilities, hosted: HostedSchemes = { coap: true, coaps: false }): MethodChoice {
  const support = caps.deliveryMethod ?? DeliveryMethodSupport.both;
  const canPush = support === DeliveryMethodSupport.pushOnly || support === DeliveryMethodSupport.both;
  const canPullAtAll = support === DeliveryMethodSupport.pullOnly || support === DeliveryMethodSupport.both;
  const protocols = caps.protocols ?? [Protocol.coap];
  const sharedScheme = (hosted.coap && protocols.includes(Protocol.coap)) || (hosted.coaps && protocols.includes(Protocol.coaps));
  const canPull = canPullAtAll && sharedScheme;
  if (requested === 'push') return canPush ? { method: 'push' } : { error: `device does not accept push (Delivery Method /5/0/9 = ${support})` };
  if (requested === 'pull') {
    if (!canPullAtAll) return { error: `device does not pull (Delivery Method /5/0/9 = ${support})` };
    if (!sharedScheme) return { error: `device supports no protocol we host for pull (/5/0/8 = [${protocols.join(', ')}])` };
    return { method: 'pull' };
  }
  // Auto: pull lets the device pace itself and resume after a reboot; push when it cannot pull.
  if (canPull) return { method: 'pull' };
  if (canPush) return { method: 'push' };
  return { error: `device offers neither a push we can do nor a protocol we host for pull (/5/0/9 = ${support}, /5/0/8 = [${protocols.join(', ')}])` };
}
