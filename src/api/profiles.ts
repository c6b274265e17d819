/**
 * Security profiles and device pairing over HTTP:
 *   GET    /api/profiles                  every profile
 *   GET    /api/profiles/{name}           one profile (MAC secrets shown only as "secret": true)
 *   PUT    /api/profiles/{name}           create (201) or replace (200) the whole profile
 *   DELETE /api/profiles/{name}           204; 409 while a device or device type is paired with it
 *   GET    /api/device-types              device type → profile (+ vendor/class ids)
 *   GET|PUT|DELETE /api/device-types/{type}
 *   GET    /api/clients/{ep}/profile      the device's record and the profile it is held to (and why)
 *   PUT    /api/clients/{ep}/profile      merge fields into the record: {"profile", "deviceType", "vendorId", …}
 *   DELETE /api/clients/{ep}/profile      forget the record
 * Bad bodies get 400 with every reason in `reasons`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProfileInUseError, type ProfilePairing } from '../firmware/profiles/pairing.js';
import { parseDevicePatch, parseDeviceTypePairing, parseProfile, profileWarnings, type Parsed } from '../firmware/profiles/store-validation.js';
import type { DeviceProfileRecord, StoredProfile, TrustedKeySpec } from '../firmware/profiles/store.js';
import type { AuditLog, JsonObject } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { ApiError } from './errors.js';
import { registerSignedFirmwareRoutes, type SignedFirmwareApiDeps } from './profiles-firmware.js';

export interface ProfileApiDeps {
  pairing: ProfilePairing;
  audit?: AuditLog;
  logger?: Logger;
  /** POST /api/firmware/suit (signed images into the repository); absent without a repository. */
  signedFirmware?: SignedFirmwareApiDeps;
}

/** Secrets are write-only: an answer says a key has one, never what it is. */
export function trustedKeysJson(keys: readonly TrustedKeySpec[]): Array<Record<string, unknown>> {
  return keys.map((key) => (key.secretHex !== undefined ? { kid: key.kid, role: key.role, secret: true } : { kid: key.kid, role: key.role, publicKeyPem: key.publicKeyPem }));
}

export function profileJson(profile: StoredProfile): Record<string, unknown> {
  return { ...profile, trustedKeys: trustedKeysJson(profile.trustedKeys), warnings: profileWarnings(profile) };
}

function deviceJson(pairing: ProfilePairing, endpoint: string, record: DeviceProfileRecord | undefined): Record<string, unknown> {
  const resolved = pairing.resolve(endpoint);
  const type = record?.deviceType !== undefined ? pairing.deviceType(record.deviceType) : undefined;
  return {
    endpoint,
    profile: resolved?.profile.name ?? null,
    source: resolved?.source ?? null,
    assigned: record?.assigned ?? null,
    declared: record?.declared ?? null,
    deviceType: record?.deviceType ?? null,
    vendorId: record?.vendorId ?? type?.vendorId ?? null,
    classId: record?.classId ?? type?.classId ?? null,
    installedSequence: record?.installedSequence ?? 0,
    encryptionKeyId: record?.encryptionKeyId ?? null,
    keys: trustedKeysJson(record?.keys ?? []),
  };
}

function valid<T>(parsed: Parsed<T>, what: string): T {
  if (!parsed.ok) throw new ApiError(400, `invalid ${what}`, parsed.reasons.join('; '), { reasons: parsed.reasons });
  return parsed.value;
}

export function registerProfileRoutes(app: FastifyInstance, deps: ProfileApiDeps): void {
  const { pairing } = deps;
  const record = (action: string, subject: string, detail: JsonObject = {}): void => {
    deps.audit?.append({ at: Date.now(), actor: 'api', action, subject, detail }).catch((err: unknown) => {
      deps.logger?.error({ err, action, subject }, 'could not write the audit log');
    });
  };
  const exists = (name: string): boolean => pairing.profile(name) !== undefined;
  if (deps.signedFirmware) registerSignedFirmwareRoutes(app, deps.signedFirmware);

  app.get('/api/profiles', async () => pairing.profiles().map(profileJson));

  app.get('/api/profiles/:name', async (request: FastifyRequest<{ Params: { name: string } }>) => {
    const profile = pairing.profile(request.params.name);
    if (!profile) throw new ApiError(404, 'unknown profile', `no security profile named "${request.params.name}"`);
    return profileJson(profile);
  });

  app.put('/api/profiles/:name', async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const { name } = request.params;
    const previous = pairing.profile(name);
    const profile = valid(parseProfile(name, request.body, previous), 'profile');
    await pairing.putProfile(profile);
    record('profile.put', name, { tier: profile.tier, created: previous === undefined });
    return reply.code(previous ? 200 : 201).send(profileJson(profile));
  });

  app.delete('/api/profiles/:name', async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const { name } = request.params;
    try {
      if (!(await pairing.removeProfile(name))) throw new ApiError(404, 'unknown profile', `no security profile named "${name}"`);
    } catch (err) {
      if (err instanceof ProfileInUseError) throw new ApiError(409, 'profile in use', err.message);
      throw err;
    }
    record('profile.delete', name);
    return reply.code(204).send();
  });

  app.get('/api/device-types', async () => pairing.deviceTypes());

  app.get('/api/device-types/:type', async (request: FastifyRequest<{ Params: { type: string } }>) => {
    const type = pairing.deviceType(request.params.type);
    if (!type) throw new ApiError(404, 'unknown device type', `no profile pairing for device type "${request.params.type}"`);
    return type;
  });

  app.put('/api/device-types/:type', async (request: FastifyRequest<{ Params: { type: string } }>) => {
    const type = valid(parseDeviceTypePairing(request.params.type, request.body, exists), 'device type pairing');
    await pairing.putDeviceType(type);
    record('profile.device-type.put', type.deviceType, { profile: type.profile });
    return type;
  });

  app.delete('/api/device-types/:type', async (request: FastifyRequest<{ Params: { type: string } }>, reply) => {
    if (!(await pairing.removeDeviceType(request.params.type))) throw new ApiError(404, 'unknown device type', `no profile pairing for device type "${request.params.type}"`);
    record('profile.device-type.delete', request.params.type);
    return reply.code(204).send();
  });

  app.get('/api/clients/:ep/profile', async (request: FastifyRequest<{ Params: { ep: string } }>) => {
    const { ep } = request.params;
    return deviceJson(pairing, ep, pairing.device(ep));
  });

  app.put('/api/clients/:ep/profile', async (request: FastifyRequest<{ Params: { ep: string } }>) => {
    const { ep } = request.params;
    const patch = valid(parseDevicePatch(request.body, exists, pairing.device(ep)?.keys), 'device profile');
    const updated = await pairing.updateDevice(ep, patch);
    record('profile.device.put', ep, { profile: updated.assigned ?? null, deviceType: updated.deviceType ?? null });
    return deviceJson(pairing, ep, updated);
  });

  app.delete('/api/clients/:ep/profile', async (request: FastifyRequest<{ Params: { ep: string } }>, reply) => {
    if (!(await pairing.removeDevice(request.params.ep))) throw new ApiError(404, 'no profile record', `device "${request.params.ep}" has no profile record`);
    record('profile.device.delete', request.params.ep);
    return reply.code(204).send();
  });
}
