import { describe, expect, it } from 'vitest';
import { LinkFormatError } from '../../../../src/lwm2m/link-format.js';
import { parseObjectLinks, parseObjectLinksBytes } from '../../../../src/lwm2m/server/object-links.js';

describe('parseObjectLinksBytes', () => {
  it('answers a repeat of the previous payload with the same frozen result', () => {
    const first = parseObjectLinksBytes(Buffer.from('</>;rt="oma.lwm2m",</1/0>,</3/0>'));
    const again = parseObjectLinksBytes(Buffer.from('</>;rt="oma.lwm2m",</1/0>,</3/0>'));
    expect(again).toBe(first);
    expect(first.rootPath).toBe('/');
    expect(first.objectLinks.map((link) => link.uri)).toEqual(['/', '/1/0', '/3/0']);
    expect(Object.isFrozen(first.objectLinks)).toBe(true);
  });

  it('parses a different payload of the same length anew', () => {
    const a = parseObjectLinksBytes(Buffer.from('</1/0>,</3/0>'));
    const b = parseObjectLinksBytes(Buffer.from('</1/0>,</4/0>'));
    expect(b).not.toBe(a);
    expect(b.objectLinks.map((link) => link.uri)).toEqual(['/1/0', '/4/0']);
  });

  it('is not fooled when the caller reuses the payload buffer for other bytes', () => {
    const datagram = Buffer.from('</1/0>,</3/0>');
    const first = parseObjectLinksBytes(datagram);
    datagram.write('</9/0>,</3/0>');
    const second = parseObjectLinksBytes(datagram);
    expect(second).not.toBe(first);
    expect(second.objectLinks[0].uri).toBe('/9/0');
  });

  it('throws for malformed links and still serves the previous payload afterwards', () => {
    const good = parseObjectLinksBytes(Buffer.from('</5/0>'));
    expect(() => parseObjectLinksBytes(Buffer.from('</5/0'))).toThrow(LinkFormatError);
    expect(parseObjectLinksBytes(Buffer.from('</5/0>'))).toBe(good);
  });

  it('gives the same result as parsing the decoded string', () => {
    const text = '</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/5>;ver=1.1';
    expect(parseObjectLinksBytes(Buffer.from(text))).toEqual(parseObjectLinks(text));
    expect(parseObjectLinksBytes(Buffer.from(text)).rootPath).toBe('/lwm2m');
  });
});
