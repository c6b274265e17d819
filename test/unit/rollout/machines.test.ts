import { describe, expect, it } from 'vitest';
import { DEVICE_PHASES, deviceEdges, deviceTransition, type DeviceEvent } from '../../../src/rollout/device-machine.js';
import { CAMPAIGN_STATES, campaignTransition, STAGE_STATES, stageTransition, type CampaignEvent, type StageEvent } from '../../../src/rollout/campaign-machine.js';

// Written out by hand: the table in the source must match this, edge for edge.
const DEVICE_EDGES: Array<[string, DeviceEvent, string]> = [
  ['planned', 'open', 'pending'], ['planned', 'skip', 'skipped'], ['planned', 'cancel', 'cancelled'],
  ['pending', 'not-eligible', 'waiting'], ['pending', 'start', 'transferring'], ['pending', 'skip', 'skipped'], ['pending', 'cancel', 'cancelled'],
  ['waiting', 'not-eligible', 'waiting'], ['waiting', 'start', 'transferring'], ['waiting', 'skip', 'skipped'], ['waiting', 'cancel', 'cancelled'],
  ['transferring', 'busy', 'paused'], ['transferring', 'downloaded', 'downloaded'], ['transferring', 'succeeded', 'succeeded'],
  ['transferring', 'failed', 'failed'], ['transferring', 'timeout', 'failed'], ['transferring', 'cancel', 'cancelled'],
  ['paused', 'resume', 'transferring'], ['paused', 'downloaded', 'downloaded'], ['paused', 'succeeded', 'succeeded'],
  ['paused', 'failed', 'failed'], ['paused', 'timeout', 'failed'], ['paused', 'cancel', 'cancelled'],
  ['downloaded', 'execute', 'updating'], ['downloaded', 'succeeded', 'succeeded'], ['downloaded', 'failed', 'failed'],
  ['downloaded', 'timeout', 'failed'], ['downloaded', 'cancel', 'cancelled'],
  ['updating', 'succeeded', 'succeeded'], ['updating', 'failed', 'failed'], ['updating', 'timeout', 'failed'], ['updating', 'cancel', 'cancelled'],
];
const DEVICE_EVENTS: DeviceEvent[] = ['open', 'not-eligible', 'start', 'busy', 'resume', 'downloaded', 'execute', 'succeeded', 'failed', 'timeout', 'skip', 'cancel'];

describe('device rollout state machine', () => {
  for (const [from, event, to] of DEVICE_EDGES) {
    it(`${from} --${event}--> ${to}`, () => {
      expect(deviceTransition(from as never, event)).toBe(to);
    });
  }

  it('has no other edge (final phases take no event)', () => {
    const listed = new Set(DEVICE_EDGES.map(([f, e]) => `${f}/${e}`));
    for (const phase of DEVICE_PHASES) {
      for (const event of DEVICE_EVENTS) {
        if (!listed.has(`${phase}/${event}`)) expect(deviceTransition(phase, event), `${phase}/${event}`).toBeUndefined();
      }
    }
    expect(deviceEdges()).toHaveLength(DEVICE_EDGES.length);
  });
});

const CAMPAIGN_EDGES: Array<[string, CampaignEvent, string]> = [
  ['draft', 'start', 'running'], ['draft', 'abort', 'aborted'],
  ['running', 'pause', 'paused'], ['running', 'halt', 'halted'], ['running', 'complete', 'completed'], ['running', 'abort', 'aborted'],
  ['paused', 'resume', 'running'], ['paused', 'abort', 'aborted'],
  ['halted', 'resume', 'running'], ['halted', 'abort', 'aborted'],
];

describe('campaign state machine', () => {
  for (const [from, event, to] of CAMPAIGN_EDGES) {
    it(`${from} --${event}--> ${to}`, () => expect(campaignTransition(from as never, event)).toBe(to));
  }
  it('refuses everything else', () => {
    const listed = new Set(CAMPAIGN_EDGES.map(([f, e]) => `${f}/${e}`));
    for (const state of CAMPAIGN_STATES) {
      for (const event of ['start', 'pause', 'resume', 'halt', 'complete', 'abort'] as CampaignEvent[]) {
        if (!listed.has(`${state}/${event}`)) expect(campaignTransition(state, event), `${state}/${event}`).toBeUndefined();
      }
    }
  });
});

describe('stage state machine', () => {
  const edges: Array<[string, StageEvent, string]> = [['planned', 'open', 'active'], ['active', 'drained', 'soaking'], ['soaking', 'soaked', 'passed']];
  for (const [from, event, to] of edges) {
    it(`${from} --${event}--> ${to}`, () => expect(stageTransition(from as never, event)).toBe(to));
  }
  it('refuses everything else', () => {
    for (const state of STAGE_STATES) {
      for (const event of ['open', 'drained', 'soaked'] as StageEvent[]) {
        if (!edges.some(([f, e]) => f === state && e === event)) expect(stageTransition(state, event)).toBeUndefined();
      }
    }
  });
});
