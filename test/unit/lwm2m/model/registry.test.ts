import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareVersions, loadObjectModel, ObjectRegistry } from '../../../../src/lwm2m/model/registry.js';
import type { ObjectSpec } from '../../../../src/lwm2m/model/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'ddf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function spec(id: number, version: string, name = `O${id}`): ObjectSpec {
  return { id, name, version, multiple: false, mandatory: false, resources: new Map() };
}

describe('our objects/ folder', () => {
  const model = loadObjectModel();

  it('holds objects 0, 1, 2, 3, 4, 5, 9 and our Update Discretion object 26250 with the resource counts of their versions', () => {
    expect(model.objects().map((o) => [o.id, o.version, o.resources.size])).toEqual([
      [0, '1.2', 31],
      [1, '1.2', 28],
      [2, '1.1', 4],
      [3, '1.2', 23],
      [4, '1.3', 14],
      [5, '1.1', 13],
      [9, '1.1', 23],
      [26250, '1.0', 9],
    ]);
  });

  it('describes the Device resources exactly', () => {
    expect(model.getObject(3)).toMatchObject({ name: 'Device', multiple: false, mandatory: true, urn: 'urn:oma:lwm2m:oma:3:1.2' });
    expect(model.getResource(3, 0)).toMatchObject({ name: 'Manufacturer', operations: 'R', type: 'string', multiple: false, mandatory: false });
    expect(model.getResource(3, 4)).toMatchObject({ name: 'Reboot', operations: 'E', type: 'none', mandatory: true });
    expect(model.getResource(3, 6)).toMatchObject({ name: 'Available Power Sources', type: 'integer', multiple: true });
    expect(model.getResource(3, 11)).toMatchObject({ name: 'Error Code', type: 'integer', multiple: true, mandatory: true });
    expect(model.getResource(3, 13)).toMatchObject({ name: 'Current Time', operations: 'RW', type: 'time' });
    expect(model.getResource(3, 22)).toMatchObject({ name: 'ExtDevInfo', type: 'objlnk', multiple: true });
  });

  it('describes the Firmware Update resources exactly (there is no resource 4)', () => {
    const fw = model.getObject(5)!;
    expect([...fw.resources.keys()]).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const brief = (id: number) => {
      const r = fw.resources.get(id)!;
      return [r.name, r.operations, r.type, r.multiple, r.mandatory];
    };
    expect(brief(0)).toEqual(['Package', 'W', 'opaque', false, true]);
    expect(brief(1)).toEqual(['Package URI', 'RW', 'string', false, true]);
    expect(brief(2)).toEqual(['Update', 'E', 'none', false, true]);
    expect(brief(3)).toEqual(['State', 'R', 'integer', false, true]);
    expect(brief(5)).toEqual(['Update Result', 'R', 'integer', false, true]);
    expect(brief(8)).toEqual(['Firmware Update Protocol Support', 'R', 'integer', true, false]);
    expect(brief(9)).toEqual(['Firmware Update Delivery Method', 'R', 'integer', false, true]);
    expect(brief(10)).toEqual(['Cancel', 'E', 'none', false, false]);
    expect(brief(12)).toEqual(['Last State Change Time', 'R', 'time', false, false]);
    expect(brief(13)).toEqual(['Maximum Defer Period', 'RW', 'unsigned', false, false]);
  });

  it('describes Security and Server key resources', () => {
    expect(model.getResource(0, 0)).toMatchObject({ name: 'LWM2M Server URI', operations: '', type: 'string' });
    expect(model.getResource(0, 2)).toMatchObject({ name: 'Security Mode', type: 'integer', rangeEnumeration: '0..4' });
    expect(model.getResource(0, 5)).toMatchObject({ name: 'Secret Key', type: 'opaque' });
    expect(model.getResource(1, 1)).toMatchObject({ name: 'Lifetime', operations: 'RW', type: 'unsigned', units: 's' });
    expect(model.getResource(1, 8)).toMatchObject({ name: 'Registration Update Trigger', operations: 'E' });
    expect(model.getResource(2, 2)).toMatchObject({ name: 'ACL', type: 'integer', multiple: true });
    expect(model.getResource(9, 21)).toMatchObject({ name: 'Operational State', type: 'unsigned' });
  });
});

describe('ObjectRegistry', () => {
  it('keeps several versions and answers the highest without a version', () => {
    const registry = ObjectRegistry.fromSpecs([spec(5, '1.0', 'old'), spec(5, '1.10', 'newest'), spec(5, '1.2', 'mid')]);
    expect(registry.getObject(5)?.name).toBe('newest');
    expect(registry.getObject(5, '1.0')?.name).toBe('old');
    expect(registry.getObject(5, '1')?.name).toBe('old');
    expect(registry.getObject(5, '2.0')).toBeUndefined();
    expect(registry.versions(5)).toEqual(['1.0', '1.2', '1.10']);
    expect(registry.getObject(6)).toBeUndefined();
    expect(registry.getResource(6, 0)).toBeUndefined();
  });

  it('lets a later spec with the same id and version replace the earlier', () => {
    const registry = ObjectRegistry.fromSpecs([spec(3, '1.0', 'first'), spec(3, '1.0', 'second')]);
    expect(registry.objects().map((o) => o.name)).toEqual(['second']);
  });

  it('compares versions numerically', () => {
    expect(compareVersions('1.10', '1.2')).toBeGreaterThan(0);
    expect(compareVersions('1.0', '1.0')).toBe(0);
    expect(compareVersions('1.0', '2')).toBeLessThan(0);
  });

  it('loads extra folders after objects/, overriding the same id and version', () => {
    writeFileSync(
      join(tmp, '3.xml'),
      `<?xml version="1.0" encoding="UTF-8"?>
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.openmobilealliance.org/tech/profiles/LWM2M-v1_1.xsd">
  <Object ObjectType="MODefinition">
    <Name>Device (vendor build)</Name><Description1><![CDATA[Override.]]></Description1>
    <ObjectID>3</ObjectID><ObjectURN>urn:oma:lwm2m:oma:3:1.2</ObjectURN><LWM2MVersion>1.1</LWM2MVersion>
    <ObjectVersion>1.2</ObjectVersion><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>
    <Resources><Item ID="0"><Name>Manufacturer</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
      <Mandatory>Optional</Mandatory><Type>String</Type><RangeEnumeration></RangeEnumeration><Units></Units>
      <Description><![CDATA[Maker]]></Description></Item></Resources>
  </Object>
</LWM2M>`,
    );
    writeFileSync(
      join(tmp, '10241.xml'),
      `<LWM2M><Object ObjectType="MODefinition"><Name>Vendor</Name><ObjectID>10241</ObjectID><ObjectVersion>1.0</ObjectVersion>
        <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources/></Object></LWM2M>`,
    );
    writeFileSync(join(tmp, 'notes.txt'), 'not a DDF file');
    const model = loadObjectModel([tmp]);
    expect(model.getObject(3)?.name).toBe('Device (vendor build)');
    expect(model.getObject(3)?.resources.size).toBe(1);
    expect(model.getObject(10241)?.name).toBe('Vendor');
    expect(model.getObject(5)?.resources.size).toBe(13);
  });
});
