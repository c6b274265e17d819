import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ResourceType } from '../node.js';
import type { ObjectSpec, Operations, ResourceSpec } from './types.js';

/** A DDF file that cannot be used; the message names the file and what is wrong. */
export class DdfError extends Error {
  override readonly name = 'DdfError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const TYPES: Record<string, ResourceType> = {
  '': 'none',
  none: 'none',
  string: 'string',
  integer: 'integer',
  'unsigned integer': 'unsigned',
  unsignedinteger: 'unsigned',
  float: 'float',
  boolean: 'boolean',
  opaque: 'opaque',
  time: 'time',
  objlnk: 'objlnk',
  corelnk: 'corelnk',
};

const OPERATIONS: Record<string, Operations> = { '': '', R: 'R', W: 'W', RW: 'RW', WR: 'RW', E: 'E' };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Keep every text as a string: "1.0" must stay "1.0", not become 1.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => name === 'Object' || name === 'Item',
});

type XmlNode = Record<string, unknown>;

/** Parses the text of one DDF file; `file` only labels errors. A file may hold several objects. */
export function parseDdf(xml: string, file = '<ddf>'): ObjectSpec[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new DdfError(file, `malformed XML at line ${valid.err.line}: ${valid.err.msg}`);
  }
  const doc = parser.parse(xml) as XmlNode;
  if (!('LWM2M' in doc)) throw new DdfError(file, 'no <LWM2M> root element');
  const root = doc['LWM2M'];
  const objects = isNode(root) ? root['Object'] : undefined;
  if (!Array.isArray(objects) || objects.length === 0) throw new DdfError(file, 'no <Object> in <LWM2M>');
  return objects.map((obj, index) => {
    if (!isNode(obj)) throw new DdfError(file, `<Object> #${index + 1} is empty`);
    return parseObject(obj, file);
  });
}

/** Reads and parses one DDF file from disk. */
export function loadDdfFile(filePath: string): ObjectSpec[] {
  let xml: string;
  try {
    xml = readFileSync(filePath, 'utf8');
  } catch (err) {
    throw new DdfError(filePath, `cannot read: ${(err as Error).message}`);
  }
  return parseDdf(xml, filePath);
}

function parseObject(obj: XmlNode, file: string): ObjectSpec {
  const id = parseId(text(obj, 'ObjectID'), file, 'ObjectID');
  const where = `object ${id}`;
  const name = text(obj, 'Name');
  if (name === '') throw new DdfError(file, `${where}: <Name> is missing`);
  const version = text(obj, 'ObjectVersion') || '1.0';
  if (!/^\d+\.\d+$/.test(version)) throw new DdfError(file, `${where}: ObjectVersion "${version}" is not "major.minor"`);
  const spec: ObjectSpec = {
    id,
    name,
    version,
    multiple: multiplicity(text(obj, 'MultipleInstances'), file, where),
    mandatory: mandatory(text(obj, 'Mandatory'), file, where),
    resources: new Map(),
  };
  setIfPresent(spec, 'description', text(obj, 'Description1'));
  setIfPresent(spec, 'lwm2mVersion', text(obj, 'LWM2MVersion'));
  setIfPresent(spec, 'urn', text(obj, 'ObjectURN'));

  const resources = obj['Resources'];
  const items = isNode(resources) ? resources['Item'] : undefined;
  for (const item of Array.isArray(items) ? items : []) {
    if (!isNode(item)) throw new DdfError(file, `${where}: an empty <Item>`);
    const resource = parseItem(item, file, where);
    if (spec.resources.has(resource.id)) throw new DdfError(file, `${where}: resource ${resource.id} is defined twice`);
    spec.resources.set(resource.id, resource);
  }
  return spec;
}

function parseItem(item: XmlNode, file: string, objectWhere: string): ResourceSpec {
  const rawId = item['@_ID'];
  if (typeof rawId !== 'string') throw new DdfError(file, `${objectWhere}: an <Item> has no ID attribute`);
  const id = parseId(rawId, file, `${objectWhere} Item ID`);
  const where = `${objectWhere} resource ${id}`;
  const opsText = text(item, 'Operations').toUpperCase();
  const operations = OPERATIONS[opsText];
  if (operations === undefined) throw new DdfError(file, `${where}: unknown Operations "${opsText}"`);
  const typeText = text(item, 'Type');
  const type = TYPES[typeText.toLowerCase()];
  if (type === undefined) throw new DdfError(file, `${where}: unknown Type "${typeText}"`);
  const resource: ResourceSpec = {
    id,
    name: text(item, 'Name'),
    operations,
    multiple: multiplicity(text(item, 'MultipleInstances'), file, where),
    mandatory: mandatory(text(item, 'Mandatory'), file, where),
    type,
  };
  if (resource.name === '') throw new DdfError(file, `${where}: <Name> is missing`);
  setIfPresent(resource, 'rangeEnumeration', text(item, 'RangeEnumeration'));
  setIfPresent(resource, 'units', text(item, 'Units'));
  setIfPresent(resource, 'description', text(item, 'Description'));
  return resource;
}

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text content of a child element; '' when absent or empty (<Type/>, <Type></Type>). */
function text(node: XmlNode, key: string): string {
  const value = node[key];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // An element with attributes but only text ends up as { '#text': ... }.
  if (isNode(value) && typeof value['#text'] === 'string') return value['#text'].trim();
  return '';
}

function parseId(raw: string, file: string, what: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new DdfError(file, `${what} "${raw}" is not a number`);
  const id = Number(raw.trim());
  if (id > 65535) throw new DdfError(file, `${what} ${id} is above 65535`);
  return id;
}

function multiplicity(value: string, file: string, where: string): boolean {
  if (/^multiple$/i.test(value)) return true;
  if (/^single$/i.test(value)) return false;
  throw new DdfError(file, `${where}: MultipleInstances must be Multiple or Single, not "${value}"`);
}

function mandatory(value: string, file: string, where: string): boolean {
  if (/^mandatory$/i.test(value)) return true;
  if (/^optional$/i.test(value)) return false;
  throw new DdfError(file, `${where}: Mandatory must be Mandatory or Optional, not "${value}"`);
}

function setIfPresent<T extends object, K extends keyof T>(target: T, key: K, value: string): void {
  if (value !== '') (target as Record<K, unknown>)[key] = value;
}
