import { describe, expect, it } from 'vitest';
import { bootstrapFormat, versionOfDiscover, versionOfRequest } from '../../../../src/lwm2m/bootstrap/content-format.js';
import { parseBootstrapConfig, redactBootstrapConfig } from '../../../../src/lwm2m/bootstrap/config.js';
import { buildPlan, discoveredAccounts } from '../../../../src/lwm2m/bootstrap/plan.js';
import { ContentFormat } from '../../../../src/lwm2m/formats/types.js';
import { parseLinkFormat } from '../../../../src/lwm2m/link-format.js';

const config = parseBootstrapConfig({
  servers: [
    { shortId: 101, uri: 'coap://a', securityMode: 'nosec', lifetime: 300, binding: 'U' },
    { shortId: 102, uri: 'coaps://b', securityMode: 'psk', lifetime: 60, binding: 'U', pskIdentity: 'id', pskKey: 'ABCD', serverInstanceId: 5 },
  ],
});

describe('bootstrap plan and content format', () => {
  it('negotiates TLV for 1.0 (no pct) and the preferred instance format for 1.1+', () => {
    expect(versionOfRequest(undefined)).toBe('1.0');
    expect(versionOfRequest(112)).toBe('1.1');
    expect(bootstrapFormat('1.0', undefined)).toBe(ContentFormat.TLV);
    expect(bootstrapFormat('1.1', ContentFormat.SENML_JSON)).toBe(ContentFormat.SENML_JSON);
    expect(bootstrapFormat('1.2', ContentFormat.TEXT)).toBe(ContentFormat.SENML_CBOR);
    expect(versionOfDiscover('lwm2m="1.2",</0/0>')).toBe('1.2');
    expect(versionOfDiscover('</0/0>')).toBeUndefined();
  });

  it('discovers, deletes, writes Security then Server instances, then finishes', () => {
    const plan = buildPlan(config, '1.1', undefined);
    expect(plan.map((s) => `${s.kind} ${s.path}`)).toEqual([
      'discover /', 'delete /0', 'delete /1', 'write /0/1', 'write /0/2', 'write /1/0', 'write /1/5', 'finish /bs',
    ]);
    expect(buildPlan(config, '1.0', undefined).map((s) => s.kind)[0]).toBe('delete');
  });

  it('keeps clear of the bootstrap account found by discovery', () => {
    const links = parseLinkFormat('</0/1>,</0/0>;ssid=9;uri="coap://old",</1/0>;ssid=9');
    const discovered = discoveredAccounts(links);
    expect(discovered).toEqual({ bootstrapSecurityIds: [1] });
    expect(buildPlan(config, '1.1', discovered).filter((s) => s.path.startsWith('/0/')).map((s) => s.path)).toEqual(['/0/0', '/0/2']);
  });

  it('writes the PSK identity and key into the Security instance, and never shows the key', () => {
    const write = buildPlan(config, '1.1', undefined).find((s) => s.path === '/0/2');
    expect(write?.kind).toBe('write');
    const resources = write?.kind === 'write' ? write.node.resources : [];
    const byId = new Map(resources.map((r) => [r.id, r.kind === 'singleResource' ? r.value : undefined]));
    expect(byId.get(0)).toBe('coaps://b');
    expect(byId.get(2)).toBe(0);
    expect(byId.get(3)).toEqual(Buffer.from('id'));
    expect(byId.get(5)).toEqual(Buffer.from([0xab, 0xcd]));
    expect(byId.get(10)).toBe(102);
    expect(JSON.stringify(redactBootstrapConfig(config))).not.toContain('abcd');
  });
});
