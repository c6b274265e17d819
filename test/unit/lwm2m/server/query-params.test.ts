import { describe, it, expect } from 'vitest';
import { QueryParams } from '../../../../src/lwm2m/server/query-params.js';

const read = (items: string[]): QueryParams => {
  const params = QueryParams.read(items);
  if (!(params instanceof QueryParams)) throw new Error(`unexpected duplicate ${params.duplicate}`);
  return params;
};

describe('QueryParams', () => {
  it('finds values by exact name, not by prefix', () => {
    const params = read(['ep=dev-1', 'ltx=9', 'lt=300', 'lwm2m=1.1', 'b=U', 'Q', 'e=']);
    expect(params.get('ep')).toBe('dev-1');
    expect(params.get('lt')).toBe('300');
    expect(params.get('ltx')).toBe('9');
    expect(params.get('lwm2m')).toBe('1.1');
    expect(params.get('b')).toBe('U');
    expect(params.get('Q')).toBe(true);
    expect(params.get('e')).toBe('');
    expect(params.get('l')).toBeUndefined();
    expect(params.get('sms')).toBeUndefined();
    expect(params.has('Q')).toBe(true);
    expect(params.has('q')).toBe(false);
  });

  it('keeps the text after the first "=" whole', () => {
    expect(read(['sms=+1=2']).get('sms')).toBe('+1=2');
  });

  it('names the first parameter given twice, with or without a value', () => {
    expect(QueryParams.read(['ep=a', 'lt=5', 'ep=b'])).toEqual({ duplicate: 'ep' });
    expect(QueryParams.read(['Q', 'b=U', 'Q'])).toEqual({ duplicate: 'Q' });
    expect(QueryParams.read(['ep', 'ep=a'])).toEqual({ duplicate: 'ep' });
    expect(QueryParams.read(['lt=1', 'ep=a', 'b=U'])).toBeInstanceOf(QueryParams);
    expect(QueryParams.read([])).toBeInstanceOf(QueryParams);
  });
});
