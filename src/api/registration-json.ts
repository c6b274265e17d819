/**
 * A registration as Leshan's API shows it (GET /api/clients, REGISTRATION events):
 * dates in milliseconds since the epoch, address "ip:port", object links as
 * {url, attributes}, availableInstances as {"3":[0]}, `sleeping` only for queue mode.
 */
import type { WebLink } from '../lwm2m/link-format.js';
import { availableInstances, type Registration } from '../lwm2m/server/registration.js';

export interface LinkJson {
  url: string;
  /** Attribute values unquoted; a flag attribute (";obs") has the value null. */
  attributes: Record<string, string | null>;
}

export function linkToJson(link: WebLink): LinkJson {
  const attributes: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(link.params)) attributes[name] = value === true ? null : value;
  return { url: link.uri, attributes };
}

// Registrations of one device type share one frozen objectLinks array: convert it once.
const linksJsonCache = new WeakMap<readonly WebLink[], LinkJson[]>();

function objectLinksJson(links: readonly WebLink[]): LinkJson[] {
  let json = linksJsonCache.get(links);
  if (json === undefined) {
    json = links.map(linkToJson);
    linksJsonCache.set(links, json);
  }
  return json;
}

/** "192.0.2.1:5683", "[2001:db8::1]:5683". */
export function formatAddress(address: { address: string; port: number }): string {
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

export function registrationToJson(reg: Registration, sleeping?: boolean): Record<string, unknown> {
  const instances: Record<string, number[]> = {};
  for (const [objectId, ids] of [...availableInstances(reg)].sort(([a], [b]) => a - b)) instances[String(objectId)] = [...ids];
  return {
    endpoint: reg.endpoint,
    registrationId: reg.id,
    registrationDate: reg.registeredAt,
    lastUpdate: reg.lastUpdateAt,
    address: formatAddress(reg.address),
    ...(reg.smsNumber !== undefined ? { smsNumber: reg.smsNumber } : {}),
    lwM2mVersion: reg.lwm2mVersion,
    lifetime: reg.lifetimeSec,
    bindingMode: reg.binding,
    rootPath: reg.rootPath,
    objectLinks: objectLinksJson(reg.objectLinks),
    secure: false,
    additionalRegistrationAttributes: {},
    queuemode: reg.queueMode,
    availableInstances: instances,
    ...(reg.queueMode ? { sleeping: sleeping ?? false } : {}),
  };
}
