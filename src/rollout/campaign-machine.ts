/**
 * The campaign's own state and each stage's state, as two pure transition functions.
 *
 * Campaign: draft → running ⇄ paused; running → halted (a health gate broke; nothing
 * advances until an operator resumes or aborts); running → completed; any unfinished →
 * aborted.
 *
 * Stage: planned → active (opened) → soaking (every member finished, gates held) →
 * passed (soak time over). The next stage opens only when the previous one has passed.
 */
export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'halted', 'completed', 'aborted'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];
export type CampaignEvent = 'start' | 'pause' | 'resume' | 'halt' | 'complete' | 'abort';

const CAMPAIGN_TABLE: Record<CampaignState, Partial<Record<CampaignEvent, CampaignState>>> = {
  draft: { start: 'running', abort: 'aborted' },
  running: { pause: 'paused', halt: 'halted', complete: 'completed', abort: 'aborted' },
  paused: { resume: 'running', abort: 'aborted' },
  halted: { resume: 'running', abort: 'aborted' },
  completed: {},
  aborted: {},
};

export function campaignTransition(state: CampaignState, event: CampaignEvent): CampaignState | undefined {
  return CAMPAIGN_TABLE[state][event];
}

export function campaignEdges(): Array<[CampaignState, CampaignEvent, CampaignState]> {
  const edges: Array<[CampaignState, CampaignEvent, CampaignState]> = [];
  for (const state of CAMPAIGN_STATES) for (const [event, next] of Object.entries(CAMPAIGN_TABLE[state])) edges.push([state, event as CampaignEvent, next]);
  return edges;
}

export const FINAL_CAMPAIGN_STATES: ReadonlySet<CampaignState> = new Set(['completed', 'aborted']);

export const STAGE_STATES = ['planned', 'active', 'soaking', 'passed'] as const;
export type StageState = (typeof STAGE_STATES)[number];
export type StageEvent = 'open' | 'drained' | 'soaked';

const STAGE_TABLE: Record<StageState, Partial<Record<StageEvent, StageState>>> = {
  planned: { open: 'active' },
  active: { drained: 'soaking' },
  soaking: { soaked: 'passed' },
  passed: {},
};

export function stageTransition(state: StageState, event: StageEvent): StageState | undefined {
  return STAGE_TABLE[state][event];
}

export function stageEdges(): Array<[StageState, StageEvent, StageState]> {
  const edges: Array<[StageState, StageEvent, StageState]> = [];
  for (const state of STAGE_STATES) for (const [event, next] of Object.entries(STAGE_TABLE[state])) edges.push([state, event as StageEvent, next]);
  return edges;
}
