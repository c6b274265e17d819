/**
 * CoRE Link Format (RFC 6690): the payload of an LwM2M register/update (the device's
 * objects) and of a discover response (objects, instances, resources and attributes).
 */

export interface WebLink {
  uri: string;
  /** Quoted values are unquoted; a parameter without a value (`;obs`) is `true`. */
  params: Record<string, string | true>;
}

export class LinkFormatError extends Error {
  override readonly name = 'LinkFormatError';
  constructor(readonly reason: string) {
    super(`invalid link format: ${reason}`);
  }
}

// RFC 6690 parmname is a token; devices in the wild also use upper case, so accept it.
const PARAM_NAME = /[A-Za-z0-9!#$&+\-.^_`|~*]/;
// Unquoted values (ptoken) stop at a separator, whitespace or a quote.
const PTOKEN_STOP = new Set([',', ';', '"', '<', '>', ' ', '\t', '\r', '\n']);

/** Parses a link-format payload; an empty (or blank) payload is an empty list. */
export function parseLinkFormat(text: string): WebLink[] {
  const links: WebLink[] = [];
  let i = 0;
  const n = text.length;
  const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  const skipSpace = (): void => {
    while (i < n && isSpace(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new LinkFormatError(`${what} at position ${i}`);
  };

  skipSpace();
  if (i === n) return links;

  for (;;) {
    skipSpace();
    if (text[i] !== '<') fail(i === n ? "expected '<' but the payload ended" : `expected '<' but found '${text[i]}'`);
    const close = text.indexOf('>', i + 1);
    if (close < 0) fail('unterminated URI (no closing >)');
    const uri = text.slice(i + 1, close);
    if (uri.length === 0) fail('empty URI');
    if (uri.includes('<')) fail("'<' inside a URI");
    i = close + 1;

    const params: Record<string, string | true> = {};
    for (;;) {
      skipSpace();
      if (text[i] !== ';') break;
      i++;
      skipSpace();
      const nameStart = i;
      while (i < n && PARAM_NAME.test(text[i])) i++;
      const name = text.slice(nameStart, i);
      if (name.length === 0) fail('missing parameter name after ;');
      skipSpace();
      let value: string | true = true;
      if (text[i] === '=') {
        i++;
        skipSpace();
        if (text[i] === '"') {
          value = readQuoted();
        } else {
          const start = i;
          while (i < n && !PTOKEN_STOP.has(text[i])) i++;
          if (i === start) fail(`missing value for parameter "${name}"`);
          value = text.slice(start, i);
        }
      }
      // The first occurrence wins; RFC 6690 allows repeats only for rel-like params.
      if (!(name in params)) params[name] = value;
    }
    links.push({ uri, params });

    skipSpace();
    if (i === n) return links;
    if (text[i] !== ',') fail(`unexpected character '${text[i]}'`);
    i++;
    skipSpace();
    if (i === n) fail("empty link after ','");
  }

  function readQuoted(): string {
    // i is on the opening quote. Backslash escapes the next character (RFC 7230 quoted-pair).
    i++;
    let value = '';
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return value;
      }
      if (c === '\\' && i + 1 < n) {
        value += text[i + 1];
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    return fail('unterminated quoted string');
  }
}

// Values that are safe unquoted: numbers and simple tokens (ver=1.1, pmin=10, ct=40).
const BARE_VALUE = /^[A-Za-z0-9.\-_:]+$/;
// Parameters that RFC 6690 / LwM2M write as quoted strings even when they are simple.
const ALWAYS_QUOTED = new Set(['rt', 'if', 'title', 'anchor', 'rel', 'rev', 'type']);

export function serializeLinkFormat(links: readonly WebLink[]): string {
  return links
    .map((link) => {
      let out = `<${link.uri}>`;
      for (const [name, value] of Object.entries(link.params)) {
        if (value === true) out += `;${name}`;
        else if (!ALWAYS_QUOTED.has(name) && BARE_VALUE.test(value)) out += `;${name}=${value}`;
        else out += `;${name}="${value.replace(/(["\\])/g, '\\$1')}"`;
      }
      return out;
    })
    .join(',');
}
