/**
 * GET /api/objectspecs and /api/objectspecs/{id}: the object model as JSON. Field names
 * are ours (multiple, resources) with Leshan's (instancetype, range, lwm2mversion) kept
 * alongside, so a Leshan-style UI can read the same answer.
 */
import type { FastifyInstance } from 'fastify';
import type { ObjectModel, ObjectSpec, ResourceSpec } from '../lwm2m/model/types.js';
import { leshanTypeName } from './json-values.js';
import { ApiError } from './errors.js';

export function objectSpecToJson(spec: ObjectSpec): Record<string, unknown> {
  return {
    id: spec.id,
    name: spec.name,
    version: spec.version,
    lwm2mversion: spec.lwm2mVersion ?? null,
    urn: spec.urn ?? null,
    multiple: spec.multiple,
    instancetype: spec.multiple ? 'multiple' : 'single',
    mandatory: spec.mandatory,
    description: spec.description ?? null,
    resources: [...spec.resources.values()].sort((a, b) => a.id - b.id).map(resourceSpecToJson),
  };
}

function resourceSpecToJson(spec: ResourceSpec): Record<string, unknown> {
  return {
    id: spec.id,
    name: spec.name,
    operations: spec.operations === '' ? 'NONE' : spec.operations,
    type: spec.type,
    leshanType: leshanTypeName(spec.type),
    multiple: spec.multiple,
    instancetype: spec.multiple ? 'multiple' : 'single',
    mandatory: spec.mandatory,
    range: spec.rangeEnumeration ?? null,
    units: spec.units ?? null,
    description: spec.description ?? null,
  };
}

export function registerObjectSpecRoutes(app: FastifyInstance, model: ObjectModel): void {
  app.get('/api/objectspecs', async () =>
    model
      .objects()
      .slice()
      .sort((a, b) => a.id - b.id || a.version.localeCompare(b.version))
      .map(objectSpecToJson),
  );

  app.get<{ Params: { id: string }; Querystring: { version?: string } }>('/api/objectspecs/:id', async (request) => {
    const { id } = request.params;
    if (!/^\d+$/.test(id) || Number(id) > 65535) {
      throw new ApiError(400, 'bad path', `object id "${id}" is not an integer 0..65535`);
    }
    const spec = model.getObject(Number(id), request.query.version);
    if (spec === undefined) {
      const version = request.query.version === undefined ? '' : ` version ${request.query.version}`;
      throw new ApiError(404, 'unknown object', `object ${id}${version} is not in the object model`);
    }
    return objectSpecToJson(spec);
  });
}
