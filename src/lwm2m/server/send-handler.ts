import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import { multiCodecFor } from '../formats/index.js';
import type { ObjectModel } from '../model/types.js';
import type { TimestampedNode } from '../node.js';
import type { Lwm2mEvents } from './events.js';
import type { RegistrationStore } from './registration-store.js';
import { addressKey } from './registration.js';
import { textResponse } from './registration-service.js';

/**
 * The Send operation (LwM2M 1.1 §6.4.3, POST /dp): a device pushes values unasked.
 * The sender is known only by its source address, so it must be registered from it;
 * an unregistered sender is refused with 4.03 (it is not allowed to report), not 4.04
 * (the /dp resource does exist).
 */
export function handleSend(
  req: IncomingRequest,
  store: RegistrationStore,
  model: ObjectModel,
  events: Lwm2mEvents,
): OutgoingResponse {
  const registration = store.getByAddress(req.remote);
  if (!registration) {
    return textResponse(CoapCode.Forbidden, `no registration for sender ${addressKey(req.remote)}; register before Send`);
  }
  if (req.contentFormat === undefined) {
    return textResponse(CoapCode.BadRequest, 'Send needs a Content-Format (SenML JSON, SenML CBOR or LwM2M CBOR)');
  }
  const codec = multiCodecFor(req.contentFormat);
  if (!codec) {
    return textResponse(
      CoapCode.UnsupportedContentFormat,
      `content format ${req.contentFormat} cannot carry Send data (use SenML JSON 110, SenML CBOR 112 or LwM2M CBOR 11544)`,
    );
  }
  let nodes: TimestampedNode[];
  try {
    nodes = codec.decodeTimestamped(req.payload, model);
  } catch (err) {
    return textResponse(CoapCode.BadRequest, `undecodable Send payload: ${(err as Error).message}`);
  }
  events.emit('send', { endpoint: registration.endpoint, registration, nodes });
  return { code: CoapCode.Changed };
}
