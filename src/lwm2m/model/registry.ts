import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDdfFile } from './ddf-loader.js';
import type { ObjectModel, ObjectSpec, ResourceSpec } from './types.js';

/** Compares "1.10" and "1.2" as versions (numerically), not as strings. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * The object model: every loaded version of every object. Devices announce the version
 * they implement (</3>;ver=1.1), so several versions coexist; without a version the
 * highest one answers.
 */
export class ObjectRegistry implements ObjectModel {
  private readonly byId = new Map<number, Map<string, ObjectSpec>>();

  static fromSpecs(specs: Iterable<ObjectSpec>): ObjectRegistry {
    const registry = new ObjectRegistry();
    for (const spec of specs) registry.add(spec);
    return registry;
  }

  /** Adds a spec; a later spec with the same id and version replaces the earlier one. */
  add(spec: ObjectSpec): void {
    let versions = this.byId.get(spec.id);
    if (!versions) {
      versions = new Map();
      this.byId.set(spec.id, versions);
    }
    versions.set(spec.version, spec);
  }

  getObject(objectId: number, version?: string): ObjectSpec | undefined {
    const versions = this.byId.get(objectId);
    if (!versions) return undefined;
    if (version !== undefined) return versions.get(version) ?? versions.get(normalizeVersion(version));
    let best: ObjectSpec | undefined;
    for (const spec of versions.values()) {
      if (!best || compareVersions(spec.version, best.version) > 0) best = spec;
    }
    return best;
  }

  getResource(objectId: number, resourceId: number, version?: string): ResourceSpec | undefined {
    return this.getObject(objectId, version)?.resources.get(resourceId);
  }

  /** The highest version of each object, by ascending id. */
  objects(): ObjectSpec[] {
    return [...this.byId.keys()]
      .sort((a, b) => a - b)
      .map((id) => this.getObject(id))
      .filter((spec): spec is ObjectSpec => spec !== undefined);
  }

  /** Versions loaded for one object, lowest first. */
  versions(objectId: number): string[] {
    return [...(this.byId.get(objectId)?.keys() ?? [])].sort(compareVersions);
  }
}

function normalizeVersion(version: string): string {
  return /^\d+$/.test(version) ? `${version}.0` : version;
}

/**
 * The repository's objects/ folder: this module lives in src/lwm2m/model (under tsx) or in
 * dist/src/lwm2m/model (after tsc), so the folder is three or four levels up.
 */
export function defaultObjectsDir(): string {
  const candidates = ['../../../objects', '../../../../objects'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((dir) => existsSync(dir) && statSync(dir).isDirectory());
  if (!found) throw new Error(`objects/ folder not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Every *.xml file of a folder, in name order so overrides are predictable. */
export function loadDdfDir(dir: string): ObjectSpec[] {
  const files = readdirSync(dir)
    .filter((name) => name.toLowerCase().endsWith('.xml'))
    .sort();
  return files.flatMap((name) => loadDdfFile(join(dir, name)));
}

/** Loads objects/ then each extra folder; later folders override the same id and version. */
export function loadObjectModel(extraDirs: string[] = []): ObjectRegistry {
  const registry = new ObjectRegistry();
  for (const dir of [defaultObjectsDir(), ...extraDirs]) {
    for (const spec of loadDdfDir(dir)) registry.add(spec);
  }
  return registry;
}
