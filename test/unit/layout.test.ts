// The TypeScript decoders against the C structs of bpf/macebpf.h, as the
// compiler laid them out (offsetof/sizeof exported by the addon).
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/host/addon';
import { COUNTERS_SIZE, DIR_COUNTER_FIELDS, DIR_COUNTERS_SIZE } from '../../src/core/counters';
import { LIMIT_STATE_OFFSETS, LIMIT_STATE_SIZE } from '../../src/core/limit-state';
import { ABSENT, EVENT_OFFSETS, EVENT_SIZE, RX_TSTAMP, S_FROM_SENDER } from '../../src/core/records';

describe('shared struct layout', () => {
  const { layout } = loadAddon();

  it('mb_event: size and every field offset', () => {
    expect(EVENT_SIZE).toBe(layout.eventSize);
    expect(EVENT_OFFSETS).toEqual(layout.event);
  });

  it('mb_counters: sizes and field order', () => {
    expect(COUNTERS_SIZE).toBe(layout.countersSize);
    expect(DIR_COUNTERS_SIZE).toBe(layout.dirCountersSize);
    expect(Object.fromEntries(DIR_COUNTER_FIELDS.map((f, i) => [f, i * 8]))).toEqual(layout.dirCounters);
  });

  it('the absent-part sentinel and the flags in stages', () => {
    expect(ABSENT).toBe(layout.absent);
    expect(S_FROM_SENDER).toBe(layout.sFromSender);
    expect(RX_TSTAMP).toBe(layout.rxTstamp);
  });
});

describe('mb_limit_state layout', () => {
  const { layout } = loadAddon();

  it('size and field offsets', () => {
    expect(LIMIT_STATE_SIZE).toBe(layout.limitStateSize);
    expect(LIMIT_STATE_OFFSETS).toEqual(layout.limitState);
  });
});
