import { describe, expect, it } from 'vitest';
import { DdfError, parseDdf } from '../../../../src/lwm2m/model/ddf-loader.js';

// Shaped like a file of the OMA registry: declaration, comment, xsi attributes, CDATA,
// tabs, an empty <Type></Type> for an executable and a self-closing <Units/>.
const REGISTRY_STYLE = `<?xml version="1.0" encoding="UTF-8"?>
<!-- FILE INFORMATION: test copy in the registry's layout -->
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.openmobilealliance.org/tech/profiles/LWM2M-v1_1.xsd">
\t<Object ObjectType="MODefinition">
\t\t<Name>Test Sensor</Name>
\t\t<Description1><![CDATA[A sensor <with> markup in CDATA.]]></Description1>
\t\t<ObjectID>3303</ObjectID>
\t\t<ObjectURN>urn:oma:lwm2m:ext:3303:1.1</ObjectURN>
\t\t<LWM2MVersion>1.0</LWM2MVersion>
\t\t<ObjectVersion>1.1</ObjectVersion>
\t\t<MultipleInstances>Multiple</MultipleInstances>
\t\t<Mandatory>Optional</Mandatory>
\t\t<Resources>
\t\t\t<Item ID="5700">
\t\t\t\t<Name>Sensor Value</Name>
\t\t\t\t<Operations>R</Operations>
\t\t\t\t<MultipleInstances>Single</MultipleInstances>
\t\t\t\t<Mandatory>Mandatory</Mandatory>
\t\t\t\t<Type>Float</Type>
\t\t\t\t<RangeEnumeration></RangeEnumeration>
\t\t\t\t<Units>Cel</Units>
\t\t\t\t<Description><![CDATA[Last measured value.]]></Description>
\t\t\t</Item>
\t\t\t<Item ID="5605">
\t\t\t\t<Name>Reset Min and Max Measured Values</Name>
\t\t\t\t<Operations>E</Operations>
\t\t\t\t<MultipleInstances>Single</MultipleInstances>
\t\t\t\t<Mandatory>Optional</Mandatory>
\t\t\t\t<Type></Type>
\t\t\t\t<RangeEnumeration></RangeEnumeration>
\t\t\t\t<Units/>
\t\t\t\t<Description><![CDATA[Resets the min and max.]]></Description>
\t\t\t</Item>
\t\t</Resources>
\t\t<Description2><![CDATA[]]></Description2>
\t</Object>
</LWM2M>
`;

function objectXml(resources: string, header = ''): string {
  return `<LWM2M><Object ObjectType="MODefinition"><Name>X</Name><ObjectID>42000</ObjectID>${header}
    <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>${resources}</Resources></Object></LWM2M>`;
}

function item(id: string, fields: Partial<Record<'Operations' | 'Type' | 'MultipleInstances' | 'Mandatory', string>> = {}): string {
  const f = { Operations: 'R', Type: 'String', MultipleInstances: 'Single', Mandatory: 'Optional', ...fields };
  return `<Item ID="${id}"><Name>R${id}</Name><Operations>${f.Operations}</Operations>
    <MultipleInstances>${f.MultipleInstances}</MultipleInstances><Mandatory>${f.Mandatory}</Mandatory>
    <Type>${f.Type}</Type></Item>`;
}

describe('parseDdf', () => {
  it('reads a file in the OMA registry layout', () => {
    const [spec] = parseDdf(REGISTRY_STYLE, '3303.xml');
    expect(spec.id).toBe(3303);
    expect(spec.name).toBe('Test Sensor');
    expect(spec.version).toBe('1.1');
    expect(spec.lwm2mVersion).toBe('1.0');
    expect(spec.urn).toBe('urn:oma:lwm2m:ext:3303:1.1');
    expect(spec.description).toBe('A sensor <with> markup in CDATA.');
    expect(spec.multiple).toBe(true);
    expect(spec.mandatory).toBe(false);
    expect([...spec.resources.keys()]).toEqual([5700, 5605]);
    expect(spec.resources.get(5700)).toEqual({
      id: 5700,
      name: 'Sensor Value',
      operations: 'R',
      multiple: false,
      mandatory: true,
      type: 'float',
      units: 'Cel',
      description: 'Last measured value.',
    });
    expect(spec.resources.get(5605)).toEqual({
      id: 5605,
      name: 'Reset Min and Max Measured Values',
      operations: 'E',
      multiple: false,
      mandatory: false,
      type: 'none',
      description: 'Resets the min and max.',
    });
  });

  it('reads several objects from one file and defaults the version to 1.0', () => {
    const xml = `<LWM2M>
      <Object ObjectType="MODefinition"><Name>A</Name><ObjectID>1</ObjectID><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Resources/></Object>
      <Object ObjectType="MODefinition"><Name>B</Name><ObjectID>2</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Mandatory</Mandatory><Resources>${item('0', { Type: 'Unsigned Integer', Operations: 'RW' })}</Resources></Object>
    </LWM2M>`;
    const specs = parseDdf(xml, 'two.xml');
    expect(specs.map((s) => [s.id, s.name, s.version, s.resources.size])).toEqual([
      [1, 'A', '1.0', 0],
      [2, 'B', '1.0', 1],
    ]);
    expect(specs[1].resources.get(0)?.type).toBe('unsigned');
    expect(specs[1].resources.get(0)?.operations).toBe('RW');
  });

  it.each([
    ['Objlnk', 'objlnk'],
    ['Corelnk', 'corelnk'],
    ['Time', 'time'],
    ['Opaque', 'opaque'],
    ['Boolean', 'boolean'],
    ['Integer', 'integer'],
  ])('maps type %s to %s', (xmlType, type) => {
    const [spec] = parseDdf(objectXml(item('1', { Type: xmlType })), 't.xml');
    expect(spec.resources.get(1)?.type).toBe(type);
  });

  it.each([
    ['not XML', 'this is not xml <', /t\.xml: malformed XML at line/],
    ['no root', '<Foo></Foo>', /t\.xml: no <LWM2M> root element/],
    ['no object', '<LWM2M></LWM2M>', /t\.xml: no <Object> in <LWM2M>/],
    ['bad type', objectXml(item('1', { Type: 'Decimal' })), /t\.xml: object 42000 resource 1: unknown Type "Decimal"/],
    ['bad operations', objectXml(item('1', { Operations: 'RX' })), /unknown Operations "RX"/],
    ['bad multiplicity', objectXml(item('1', { MultipleInstances: 'Many' })), /MultipleInstances must be Multiple or Single, not "Many"/],
    ['bad mandatory', objectXml(item('1', { Mandatory: 'Yes' })), /Mandatory must be Mandatory or Optional, not "Yes"/],
    ['duplicate resource', objectXml(item('1') + item('1')), /resource 1 is defined twice/],
    ['id too big', objectXml(item('70000')), /Item ID 70000 is above 65535/],
    ['id not a number', objectXml(item('x')), /Item ID "x" is not a number/],
    ['bad version', objectXml(item('1'), '<ObjectVersion>one</ObjectVersion>'), /ObjectVersion "one" is not "major.minor"/],
  ])('refuses %s with a DdfError naming the file', (_label, xml, message) => {
    expect(() => parseDdf(xml, 't.xml')).toThrow(DdfError);
    expect(() => parseDdf(xml, 't.xml')).toThrow(message);
  });
});
