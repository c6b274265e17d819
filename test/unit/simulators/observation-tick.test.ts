import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.js';
import { parsePath } from '../../../src/lwm2m/path.js';
import { ObservationSet, type ObservationTarget } from '../../../simulators/device/observe/observations.js';
import type { NotificationAttributes } from '../../../simulators/device/observe/attributes.js';

/** An ObservationSet over one value, counting renders and recording what it notifies. */
function observing(options: { announces: boolean; attributes?: NotificationAttributes }) {
  const clock = new ManualClock();
  let value = 'a';
  let renders = 0;
  const sent: string[] = [];
  const set = new ObservationSet({
    clock,
    checkIntervalMs: 1000,
    render: () => {
      renders++;
      return { payload: Buffer.from(value) };
    },
    attributes: () => options.attributes ?? {},
    send: (_entry, rendered) => sent.push(rendered.payload.toString()),
    announcesChanges: () => options.announces,
  });
  const target: ObservationTarget = { paths: [parsePath('/5/0')], composite: false, format: 0 };
  set.add({ address: '127.0.0.1', port: 1 }, Buffer.from([1]), target, { payload: Buffer.from(value) });
  return {
    clock,
    set,
    sent,
    renders: () => renders,
    change(next: string) {
      value = next;
    },
  };
}

describe('ObservationSet: the periodic tick', () => {
  it('does not render a target whose changes are all announced', () => {
    const o = observing({ announces: true });
    o.clock.advance(5000);
    expect(o.renders()).toBe(0);
    o.change('b');
    o.set.checkNow();
    expect(o.sent).toEqual(['b']);
    expect(o.renders()).toBe(1);
  });

  it('renders every tick a target that may change by itself', () => {
    const o = observing({ announces: false });
    o.clock.advance(3000);
    expect(o.renders()).toBe(3);
    o.change('b');
    o.clock.advance(1000);
    expect(o.sent).toEqual(['b']);
  });

  it('keeps pmax notifications going for an announced target', () => {
    const o = observing({ announces: true, attributes: { pmax: 2 } });
    o.clock.advance(4000);
    expect(o.sent).toEqual(['a', 'a']);
  });

  it('sends a change held back by pmin once pmin has passed, from the tick', () => {
    const o = observing({ announces: true, attributes: { pmin: 3 } });
    o.clock.advance(1000);
    o.change('b');
    o.set.checkNow();
    expect(o.sent).toEqual([]);
    o.clock.advance(1000);
    expect(o.sent).toEqual([]);
    o.clock.advance(1000);
    expect(o.sent).toEqual(['b']);
    const rendersAfter = o.renders();
    o.clock.advance(3000);
    expect(o.renders()).toBe(rendersAfter);
  });
});
