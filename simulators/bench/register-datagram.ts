/**
 * Builds CON POST /rd registration datagrams by hand. The load generator must cost far less
 * than the server it measures, so it writes the few bytes it needs directly instead of going
 * through a general CoAP codec.
 */

const OPTION_URI_PATH = 11;
const OPTION_CONTENT_FORMAT = 12;
const OPTION_URI_QUERY = 15;
const CONTENT_FORMAT_LINK = 40;

/** The link payload of a typical small device (Security is never announced). */
export const TYPICAL_LINK_PAYLOAD = '</1/0>,</3/0>,</4/0>,</5/0>';

export const TOKEN_LENGTH = 4;

export interface RegisterDatagramParams {
  endpointName: string;
  lifetimeSec: number;
  messageId: number;
  /** A 32-bit value written as the 4-byte token. */
  token: number;
}

/** Option header bytes for one option (delta/length nibbles with the 13/14 extensions). */
function optionHeader(delta: number, length: number): number[] {
  const nibble = (n: number): [number, number[]] =>
    n < 13 ? [n, []] : n < 269 ? [13, [n - 13]] : [14, [(n - 269) >> 8, (n - 269) & 0xff]];
  const [d, dExt] = nibble(delta);
  const [l, lExt] = nibble(length);
  return [(d << 4) | l, ...dExt, ...lExt];
}

export function buildRegisterDatagram(params: RegisterDatagramParams, payload = TYPICAL_LINK_PAYLOAD): Buffer {
  const bytes: number[] = [
    0x40 | TOKEN_LENGTH, // version 1, CON, token length
    0x02, // POST
    (params.messageId >> 8) & 0xff,
    params.messageId & 0xff,
    (params.token >>> 24) & 0xff,
    (params.token >>> 16) & 0xff,
    (params.token >>> 8) & 0xff,
    params.token & 0xff,
  ];
  let last = 0;
  const push = (number: number, value: Buffer): void => {
    bytes.push(...optionHeader(number - last, value.length), ...value);
    last = number;
  };
  push(OPTION_URI_PATH, Buffer.from('rd'));
  push(OPTION_CONTENT_FORMAT, Buffer.from([CONTENT_FORMAT_LINK]));
  for (const query of [`ep=${params.endpointName}`, `lt=${params.lifetimeSec}`, 'lwm2m=1.1', 'b=U']) {
    push(OPTION_URI_QUERY, Buffer.from(query));
  }
  bytes.push(0xff);
  return Buffer.concat([Buffer.from(bytes), Buffer.from(payload)]);
}

export interface ResponseHeader {
  type: number;
  code: number;
  messageId: number;
  /** The token as a 32-bit number, or -1 when it is not 4 bytes long. */
  token: number;
}

/** Reads only the fixed header and token; undefined for anything that is not CoAP v1. */
export function readResponseHeader(datagram: Buffer): ResponseHeader | undefined {
  if (datagram.length < 4 || datagram[0] >> 6 !== 1) return undefined;
  const tokenLength = datagram[0] & 0x0f;
  if (datagram.length < 4 + tokenLength) return undefined;
  return {
    type: (datagram[0] >> 4) & 0x03,
    code: datagram[1],
    messageId: datagram.readUInt16BE(2),
    token: tokenLength === TOKEN_LENGTH ? datagram.readUInt32BE(4) : -1,
  };
}
