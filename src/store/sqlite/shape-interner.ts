/**
 * Numbers the shapes of registrations (table registration_shapes; what a shape is, see
 * registration-codec.ts), so a row names its device type's lifetime, version, binding,
 * queue mode, SMS number, root path and links in one small number: rows of ~6 fields
 * cost less to build, to stringify and to insert than rows of 13.
 *
 * A shape names its link set by number (link-interner.ts). Every batch carries the
 * definitions of the shapes its rows name, and of their link sets (written if absent), so
 * a row never names a shape that is not on disk, even after a failed batch. The number of
 * shapes is bounded: past the limit (say, a fleet of SMS devices, one number each) a row
 * holds its shape inline, as the memory store does.
 */
import type { WebLink } from '../../lwm2m/link-format.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import { toShape, type ShapeArray, type ShapeFields } from '../registration-codec.js';
import type { LinkInterner } from './link-interner.js';
import { NumberedTexts, type NumberedText } from './numbered-texts.js';

/** Far above the number of device types and firmware versions of a fleet. */
export const MAX_SHAPES = 4096;

interface Shape extends ShapeFields {
  /** The number, or the inline shape when the table is full. */
  readonly ref: number | ShapeArray;
  /** The numbered shape; undefined when inline. */
  readonly entry: NumberedText | undefined;
}

/** Shapes remembered per links array: beyond this (unique SMS numbers), the others are looked up by text. */
const SHAPES_PER_LINKS = 16;

/** Where a batch collects the definitions its rows need, [number, text]. */
export interface Definitions {
  links: Array<[number, string]>;
  shapes: Array<[number, string]>;
}

export class ShapeInterner {
  // Registrations of one links array (device type) usually have one shape, rarely a few.
  private readonly byLinks = new WeakMap<readonly WebLink[], Shape[]>();
  private readonly shapes: NumberedTexts;
  // A batch is mostly one or a few device types: the last answer saves the lookups on most rows.
  private last: Shape | undefined;

  /** `stored`: the shapes already in the table, [number, text]. */
  constructor(
    private readonly linkSets: LinkInterner,
    stored: Iterable<readonly [number, string]>,
    limit = MAX_SHAPES,
  ) {
    this.shapes = new NumberedTexts(stored, limit);
  }

  /**
   * What a row of batch `batch` stores for this registration's shape: its number, with its
   * definition (and its link set's) added to `definitions` the first time the batch names
   * it; or the shape array when the table is full.
   */
  ref(r: Registration, batch: number, definitions: Definitions): number | ShapeArray {
    let shape = this.last;
    if (shape === undefined || !same(shape, r)) {
      shape = this.find(r, batch, definitions);
      this.last = shape;
    }
    const entry = shape.entry;
    if (entry !== undefined && entry.batch !== batch) {
      this.shapes.define(entry, batch, definitions.shapes);
      this.linkSets.ref(r.objectLinks, batch, definitions.links);
    } else if (entry === undefined && typeof (shape.ref as ShapeArray)[6] === 'number') {
      // An inline shape naming a link set: that set must be defined in this batch too.
      this.linkSets.ref(r.objectLinks, batch, definitions.links);
    }
    return shape.ref;
  }

  /** See NumberedTexts.forgetUnused. */
  forgetUnused(used: ReadonlySet<number>): number[] {
    return this.shapes.forgetUnused(used);
  }

  /** How many shapes are numbered (for tests and diagnostics). */
  size(): number {
    return this.shapes.size;
  }

  private find(r: Registration, batch: number, definitions: Definitions): Shape {
    let shapes = this.byLinks.get(r.objectLinks);
    if (shapes === undefined) {
      shapes = [];
      this.byLinks.set(r.objectLinks, shapes);
    }
    for (const shape of shapes) if (same(shape, r)) return shape;
    const array = toShape(r, this.linkSets.ref(r.objectLinks, batch, definitions.links));
    const entry = this.shapes.enter(JSON.stringify(array));
    const shape: Shape = {
      objectLinks: r.objectLinks,
      lifetimeSec: r.lifetimeSec,
      lwm2mVersion: r.lwm2mVersion,
      binding: r.binding,
      queueMode: r.queueMode,
      smsNumber: r.smsNumber,
      rootPath: r.rootPath,
      ref: entry ? entry.n : array,
      entry,
    };
    if (shapes.length < SHAPES_PER_LINKS) shapes.push(shape);
    return shape;
  }
}

function same(shape: Shape, r: Registration): boolean {
  return (
    shape.objectLinks === r.objectLinks &&
    shape.lifetimeSec === r.lifetimeSec &&
    shape.binding === r.binding &&
    shape.queueMode === r.queueMode &&
    shape.smsNumber === r.smsNumber &&
    shape.rootPath === r.rootPath &&
    shape.lwm2mVersion === r.lwm2mVersion
  );
}
