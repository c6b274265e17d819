import { formatCode } from '../../coap/types.js';

/**
 * What a caller of the device-management API can get wrong or suffer. The HTTP API maps
 * them to statuses: unknown device 404, timeouts 504, device error 502, bad device
 * answer 502, invalid request 400.
 */
export class UnknownDeviceError extends Error {
  override readonly name: string = 'UnknownDeviceError';
  constructor(
    readonly endpoint: string,
    detail?: string,
  ) {
    super(detail ?? `no registered device with endpoint "${endpoint}"`);
  }
}

/** The device did not answer in time (CoAP retransmissions exhausted, or the caller's timeout). */
export class DeviceTimeoutError extends Error {
  override readonly name: string = 'DeviceTimeoutError';
  constructor(
    readonly endpoint: string,
    readonly path: string,
    readonly timeoutMs: number | undefined,
    detail?: string,
  ) {
    super(
      detail ??
        `device "${endpoint}" did not answer ${path}` + (timeoutMs === undefined ? '' : ` within ${timeoutMs} ms`),
    );
  }
}

/** A queue-mode device stayed asleep for the whole of the caller's timeout: the request was never sent. */
export class QueueTimeoutError extends DeviceTimeoutError {
  override readonly name: string = 'QueueTimeoutError';
  constructor(endpoint: string, path: string, timeoutMs: number) {
    super(endpoint, path, timeoutMs, `device "${endpoint}" stayed asleep; request ${path} was not sent within ${timeoutMs} ms`);
  }
}

/** The device answered with a 4.xx/5.xx code. `message` is its diagnostic payload, if any. */
export class DeviceErrorResponse extends Error {
  override readonly name: string = 'DeviceErrorResponse';
  readonly codeText: string;
  constructor(
    readonly endpoint: string,
    readonly path: string,
    readonly code: number,
    readonly diagnostic: string,
  ) {
    const codeText = describeCode(code);
    super(`device "${endpoint}" answered ${codeText} to ${path}` + (diagnostic ? `: ${diagnostic}` : ''));
    this.codeText = codeText;
  }
}

/** The device rejected our message with a CoAP Reset (it lost its state, or the port is someone else's). */
export class DeviceResetError extends Error {
  override readonly name: string = 'DeviceResetError';
  constructor(
    readonly endpoint: string,
    readonly path: string,
  ) {
    super(`device "${endpoint}" reset the request to ${path}`);
  }
}

/** The device answered 2.xx but with a payload we cannot decode (or an unexpected code). */
export class BadDeviceResponseError extends Error {
  override readonly name: string = 'BadDeviceResponseError';
  constructor(
    readonly endpoint: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`device "${endpoint}" sent an unusable answer to ${path}: ${reason}`);
  }
}

/** The caller asked for something impossible: a bad path, value, format or operation. */
export class InvalidRequestError extends Error {
  override readonly name: string = 'InvalidRequestError';
}

const CODE_NAMES: Record<string, string> = {
  '2.01': 'Created',
  '2.02': 'Deleted',
  '2.03': 'Valid',
  '2.04': 'Changed',
  '2.05': 'Content',
  '4.00': 'Bad Request',
  '4.01': 'Unauthorized',
  '4.02': 'Bad Option',
  '4.03': 'Forbidden',
  '4.04': 'Not Found',
  '4.05': 'Method Not Allowed',
  '4.06': 'Not Acceptable',
  '4.08': 'Request Entity Incomplete',
  '4.09': 'Conflict',
  '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large',
  '4.15': 'Unsupported Content-Format',
  '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented',
  '5.02': 'Bad Gateway',
  '5.03': 'Service Unavailable',
  '5.04': 'Gateway Timeout',
  '5.05': 'Proxying Not Supported',
};

/** "4.04 Not Found" */
export function describeCode(code: number): string {
  const text = formatCode(code);
  const name = CODE_NAMES[text];
  return name ? `${text} ${name}` : text;
}
