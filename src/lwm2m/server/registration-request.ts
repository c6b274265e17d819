import { CoapCode } from '../../coap/types.js';
import { LinkFormatError } from '../link-format.js';
import { parseObjectLinksBytes, type ParsedObjectLinks } from './object-links.js';
import type { Lwm2mVersion } from './registration.js';
import { QueryParams } from './query-params.js';

/**
 * Reading the query and payload of Register (POST /rd) and Update (POST /rd/{id}),
 * LwM2M 1.0 §5.3.1 / 1.1 §6.2: what is valid, what the defaults are, and which CoAP
 * code and reason a device gets when it is wrong.
 */

export class RegistrationRequestError extends Error {
  override readonly name = 'RegistrationRequestError';
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const DEFAULT_LIFETIME_SEC = 86_400;
export const ALL_VERSIONS: readonly Lwm2mVersion[] = ['1.0', '1.1', '1.2'];
const MAX_LIFETIME_SEC = 0xffff_ffff;
const MAX_ENDPOINT_LENGTH = 256;

export interface RegisterParams {
  endpoint: string;
  lifetimeSec: number;
  lwm2mVersion: Lwm2mVersion;
  binding: string;
  queueMode: boolean;
  smsNumber: string | undefined;
  links: ParsedObjectLinks;
}

/** Only what the update message carried; absent fields keep their registered value. */
export interface UpdateParams {
  lifetimeSec?: number;
  binding?: string;
  queueMode?: boolean;
  smsNumber?: string;
  links?: ParsedObjectLinks;
}

function parseQuery(query: readonly string[]): QueryParams {
  const params = QueryParams.read(query);
  if (!(params instanceof QueryParams)) {
    throw new RegistrationRequestError(CoapCode.BadRequest, `duplicate query parameter "${params.duplicate}"`);
  }
  return params;
}

function stringParam(params: QueryParams, name: string, label: string): string | undefined {
  const value = params.get(name);
  if (value === undefined) return undefined;
  if (value === true || value === '') throw new RegistrationRequestError(CoapCode.BadRequest, `${label} (${name}) has no value`);
  return value;
}

function parseLifetime(params: QueryParams): number | undefined {
  const raw = params.get('lt');
  if (raw === undefined) return undefined;
  const n = raw === true ? NaN : allDigits(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_LIFETIME_SEC)) {
    throw new RegistrationRequestError(
      CoapCode.BadRequest,
      `lifetime (lt) must be a positive integer up to ${MAX_LIFETIME_SEC}, got "${raw === true ? '' : raw}"`,
    );
  }
  return n;
}

function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const BINDING_1_0 = new Set(['U', 'UQ', 'S', 'SQ', 'US', 'UQS']);

interface ParsedBinding {
  readonly binding: string;
  readonly queue: boolean;
}

// Valid bindings are a handful of short strings: each is checked once per version.
const validBindings: Record<Lwm2mVersion, Map<string, ParsedBinding>> = { '1.0': new Map(), '1.1': new Map(), '1.2': new Map() };
const MAX_REMEMBERED_BINDINGS = 64;

/** Returns the binding and whether it puts the device in queue mode (only 1.0 carries Q in b). */
function parseBinding(raw: string, version: Lwm2mVersion): ParsedBinding {
  const remembered = validBindings[version].get(raw);
  if (remembered !== undefined) return remembered;
  const parsed = checkBinding(raw, version);
  if (validBindings[version].size < MAX_REMEMBERED_BINDINGS) validBindings[version].set(raw, parsed);
  return parsed;
}

function checkBinding(raw: string, version: Lwm2mVersion): ParsedBinding {
  if (version === '1.0') {
    if (!BINDING_1_0.has(raw)) {
      throw new RegistrationRequestError(
        CoapCode.BadRequest,
        `binding (b) "${raw}" is not valid for LwM2M 1.0 (one of U, UQ, S, SQ, US, UQS)`,
      );
    }
    return { binding: raw, queue: raw.includes('Q') };
  }
  if (raw.includes('Q')) {
    throw new RegistrationRequestError(
      CoapCode.BadRequest,
      `binding (b) "${raw}" contains Q: from LwM2M 1.1 queue mode is the separate Q parameter`,
    );
  }
  const seen = new Set<string>();
  for (const c of raw) {
    if (!'UTSN'.includes(c) || seen.has(c)) {
      throw new RegistrationRequestError(
        CoapCode.BadRequest,
        `binding (b) "${raw}" is not valid for LwM2M ${version} (letters U, T, S, N, each at most once)`,
      );
    }
    seen.add(c);
  }
  if (raw === '') throw new RegistrationRequestError(CoapCode.BadRequest, 'binding (b) is empty');
  return { binding: raw, queue: false };
}

function parseLinks(payload: Buffer): ParsedObjectLinks {
  try {
    return parseObjectLinksBytes(payload);
  } catch (err) {
    if (err instanceof LinkFormatError) {
      throw new RegistrationRequestError(CoapCode.BadRequest, `malformed object links: ${err.reason}`);
    }
    throw err;
  }
}

export function parseRegisterRequest(
  query: readonly string[],
  payload: Buffer,
  supportedVersions: readonly Lwm2mVersion[] = ALL_VERSIONS,
): RegisterParams {
  const params = parseQuery(query);
  const endpoint = params.get('ep');
  if (endpoint === undefined || endpoint === true || endpoint === '') {
    throw new RegistrationRequestError(CoapCode.BadRequest, 'missing endpoint name (ep)');
  }
  if (endpoint.length > MAX_ENDPOINT_LENGTH) {
    throw new RegistrationRequestError(CoapCode.BadRequest, `endpoint name (ep) longer than ${MAX_ENDPOINT_LENGTH} characters`);
  }
  const lifetimeSec = parseLifetime(params) ?? DEFAULT_LIFETIME_SEC;

  const rawVersion = params.get('lwm2m') ?? '1.0';
  if (rawVersion === true || !(supportedVersions as readonly string[]).includes(rawVersion)) {
    throw new RegistrationRequestError(
      CoapCode.PreconditionFailed,
      `unsupported LwM2M version (lwm2m) "${rawVersion === true ? '' : rawVersion}"; this server supports ${supportedVersions.join(', ')}`,
    );
  }
  const lwm2mVersion = rawVersion as Lwm2mVersion;

  const { binding, queue } = parseBinding(stringParam(params, 'b', 'binding') ?? 'U', lwm2mVersion);
  const queueMode = lwm2mVersion === '1.0' ? queue : params.has('Q');
  const smsNumber = stringParam(params, 'sms', 'SMS number');
  return { endpoint, lifetimeSec, lwm2mVersion, binding, queueMode, smsNumber, links: parseLinks(payload) };
}

export function parseUpdateRequest(query: readonly string[], payload: Buffer, version: Lwm2mVersion): UpdateParams {
  const params = parseQuery(query);
  const update: UpdateParams = {};
  const lifetimeSec = parseLifetime(params);
  if (lifetimeSec !== undefined) update.lifetimeSec = lifetimeSec;
  const rawBinding = stringParam(params, 'b', 'binding');
  if (rawBinding !== undefined) {
    const { binding, queue } = parseBinding(rawBinding, version);
    update.binding = binding;
    update.queueMode = version === '1.0' ? queue : params.has('Q');
  } else if (version !== '1.0' && params.has('Q')) {
    update.queueMode = true;
  }
  const smsNumber = stringParam(params, 'sms', 'SMS number');
  if (smsNumber !== undefined) update.smsNumber = smsNumber;
  if (payload.length > 0) update.links = parseLinks(payload);
  return update;
}
