import { parseLinkFormat, type WebLink } from '../link-format.js';

export interface ParsedObjectLinks {
  readonly rootPath: string;
  readonly objectLinks: readonly WebLink[];
}

/**
 * A fleet of one device type sends the same register payload thousands of times: parse
 * it once and share one deeply frozen result. Bounded so a hostile fleet of unique
 * payloads cannot grow it without limit (it is then simply cleared and refilled).
 */
const MAX_INTERNED = 4096;
const interned = new Map<string, ParsedObjectLinks>();

const EMPTY: ParsedObjectLinks = Object.freeze({ rootPath: '/', objectLinks: Object.freeze([]) as readonly WebLink[] });

/** Parses the object links of a register/update payload. Throws LinkFormatError. */
export function parseObjectLinks(payload: string): ParsedObjectLinks {
  if (payload.trim() === '') return EMPTY;
  const known = interned.get(payload);
  if (known) return known;
  const links = parseLinkFormat(payload);
  for (const link of links) {
    Object.freeze(link.params);
    Object.freeze(link);
  }
  const parsed: ParsedObjectLinks = Object.freeze({ rootPath: rootPathOf(links), objectLinks: Object.freeze(links) });
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(payload, parsed);
  return parsed;
}

/** The alternate path (LwM2M §6.2.1.1): the link whose rt is "oma.lwm2m"; "/" when absent. */
function rootPathOf(links: readonly WebLink[]): string {
  for (const link of links) {
    const rt = link.params.rt;
    if (typeof rt === 'string' && rt.split(' ').includes('oma.lwm2m')) {
      const trimmed = link.uri.replace(/\/+$/, '');
      return trimmed === '' ? '/' : trimmed.startsWith('/') ? trimmed : '/' + trimmed;
    }
  }
  return '/';
}

// The payload bytes of the last parse and their result: consecutive registrations of one
// fleet repeat the same bytes, and comparing bytes costs less than decoding them to a string
// and hashing that string for the intern map.
let lastBytes: Buffer = Buffer.alloc(0);
let lastParsed: ParsedObjectLinks = EMPTY;

/** parseObjectLinks of a UTF-8 payload, skipping the decode when it repeats the previous one. */
export function parseObjectLinksBytes(payload: Buffer): ParsedObjectLinks {
  if (payload.length > 0 && payload.equals(lastBytes)) return lastParsed;
  const parsed = parseObjectLinks(payload.toString('utf8'));
  // A copy: the payload is a view into a datagram the caller may reuse.
  lastBytes = Buffer.from(payload);
  lastParsed = parsed;
  return parsed;
}

/** For tests and diagnostics. */
export function internedPayloadCount(): number {
  return interned.size;
}
