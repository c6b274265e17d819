/**
 * Every failure of the HTTP API answers JSON `{error, detail, …}` with a status that says
 * whose fault it is: 400 the caller's request, 404 an unknown device/object, 502 the
 * device answered an error, 504 the device did not answer, 500 our own bug.
 */
import { InvalidPathError } from '../lwm2m/path.js';
import { CoapResetError, CoapTimeoutError, formatCode } from '../coap/types.js';
import { DecodeError, EncodeError } from '../lwm2m/formats/types.js';
import { InvalidNodeJsonError } from './json-values.js';
import { coapStatusName, coapReasonPhrase } from './status.js';
import {
  BadDeviceResponseError,
  DeviceErrorResponse,
  DeviceResetError,
  DeviceTimeoutError,
  InvalidRequestError,
  UnknownDeviceError,
} from '../lwm2m/server/errors.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${error}: ${detail}`);
  }

  body(): Record<string, unknown> {
    return { error: this.error, detail: this.detail, ...this.extra };
  }
}

/** Turns anything thrown while serving a request into the answer the caller gets. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InvalidNodeJsonError) return new ApiError(400, 'bad value', err.message);
  if (err instanceof InvalidPathError) return new ApiError(400, 'bad path', err.message);
  if (err instanceof UnknownDeviceError) return new ApiError(404, 'unknown device', err.message);
  // QueueTimeoutError (a sleeping device never woke up) is a DeviceTimeoutError too.
  if (err instanceof DeviceTimeoutError || err instanceof CoapTimeoutError) {
    return new ApiError(504, 'device timeout', err.message);
  }
  if (err instanceof DeviceErrorResponse) {
    const code = err.code;
    const coapCode = formatCode(code);
    const reason = coapReasonPhrase(code);
    const diagnostic = err.diagnostic;
    const answer = `${coapCode} ${reason}`.trim();
    const detail = `device answered ${answer} to ${err.path}${diagnostic ? `: ${diagnostic}` : ''}`;
    return new ApiError(502, 'device error', detail, {
      coapCode,
      // Leshan's envelope fields, so a Leshan client still finds the CoAP outcome.
      status: coapStatusName(code),
      valid: true,
      success: false,
      failure: true,
      ...(diagnostic ? { errormessage: diagnostic } : {}),
    });
  }
  if (err instanceof BadDeviceResponseError || err instanceof DeviceResetError || err instanceof CoapResetError) {
    return new ApiError(502, 'bad device response', err.message);
  }
  if (err instanceof InvalidRequestError || err instanceof EncodeError) {
    return new ApiError(400, 'invalid request', err.message);
  }
  if (err instanceof DecodeError) return new ApiError(502, 'bad device response', err.message);
  const fastifyError = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const error = fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'bad JSON' : 'bad request';
    return new ApiError(fastifyError.statusCode, error, String(fastifyError.message));
  }
  return new ApiError(500, 'internal error', err instanceof Error ? err.message : String(err));
}
