import { describe, expect, it } from 'vitest';
import { LinkFormatError, parseLinkFormat, serializeLinkFormat } from '../../../src/lwm2m/link-format.js';

function reasonOf(text: string): string {
  try {
    parseLinkFormat(text);
  } catch (err) {
    expect(err).toBeInstanceOf(LinkFormatError);
    return (err as LinkFormatError).reason;
  }
  throw new Error(`"${text}" parsed without error`);
}

describe('parseLinkFormat', () => {
  it('returns [] for an empty or blank payload', () => {
    expect(parseLinkFormat('')).toEqual([]);
    expect(parseLinkFormat('  \r\n\t')).toEqual([]);
  });

  it('parses a typical LwM2M registration payload', () => {
    expect(parseLinkFormat('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1')).toEqual([
      { uri: '/', params: { rt: 'oma.lwm2m', ct: '11543' } },
      { uri: '/1/0', params: {} },
      { uri: '/3/0', params: {} },
      { uri: '/5', params: { ver: '1.1' } },
    ]);
  });

  it('unquotes values and keeps , and ; inside quoted strings', () => {
    expect(parseLinkFormat('</a>;title="x, y; z";rt="a b"')).toEqual([
      { uri: '/a', params: { title: 'x, y; z', rt: 'a b' } },
    ]);
  });

  it('handles backslash escapes in quoted strings', () => {
    expect(parseLinkFormat('</a>;title="say \\"hi\\" \\\\ok"')).toEqual([
      { uri: '/a', params: { title: 'say "hi" \\ok' } },
    ]);
  });

  it('turns flag parameters into true', () => {
    expect(parseLinkFormat('</3/0/13>;obs;dim=2')).toEqual([{ uri: '/3/0/13', params: { obs: true, dim: '2' } }]);
  });

  it('tolerates whitespace and newlines between links and parameters', () => {
    expect(parseLinkFormat(' </1/0> ;  pmin = 10 ,\n </3/0>\n')).toEqual([
      { uri: '/1/0', params: { pmin: '10' } },
      { uri: '/3/0', params: {} },
    ]);
  });

  it('keeps the first occurrence of a repeated parameter', () => {
    expect(parseLinkFormat('</a>;ct=40;ct=50')).toEqual([{ uri: '/a', params: { ct: '40' } }]);
  });

  it('rejects malformed payloads with a reason', () => {
    expect(reasonOf('/3/0')).toBe("expected '<' but found '/' at position 0");
    expect(reasonOf('</3/0')).toBe('unterminated URI (no closing >) at position 0');
    expect(reasonOf('<>')).toBe('empty URI at position 0');
    expect(reasonOf('</3/0>;')).toBe('missing parameter name after ; at position 7');
    expect(reasonOf('</3/0>;ver=')).toBe('missing value for parameter "ver" at position 11');
    expect(reasonOf('</3/0>;rt="abc')).toBe('unterminated quoted string at position 14');
    expect(reasonOf('</3/0>,')).toBe("empty link after ',' at position 7");
    expect(reasonOf('</3/0> </4/0>')).toBe("unexpected character '<' at position 7");
    expect(reasonOf('</3/0>,,</4>')).toBe("expected '<' but found ',' at position 7");
  });
});

describe('serializeLinkFormat', () => {
  it('writes flags bare, simple values unquoted and rt quoted', () => {
    expect(
      serializeLinkFormat([
        { uri: '/', params: { rt: 'oma.lwm2m' } },
        { uri: '/3/0/13', params: { obs: true, pmin: '10' } },
        { uri: '/5', params: { ver: '1.1', title: 'a, "b"' } },
      ]),
    ).toBe('</>;rt="oma.lwm2m",</3/0/13>;obs;pmin=10,</5>;ver=1.1;title="a, \\"b\\""');
  });

  it('round-trips through the parser', () => {
    const links = [
      { uri: '/lwm2m', params: { rt: 'oma.lwm2m', ct: '60 110' } as Record<string, string | true> },
      { uri: '/lwm2m/3/0', params: { obs: true } as Record<string, string | true> },
      { uri: '/x', params: { title: 'a\\b;c,d' } as Record<string, string | true> },
    ];
    expect(parseLinkFormat(serializeLinkFormat(links))).toEqual(links);
  });

  it('serializes an empty list as an empty string', () => {
    expect(serializeLinkFormat([])).toBe('');
  });
});
