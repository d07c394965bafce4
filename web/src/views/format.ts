// format.ts - the dashboard's figures, built on core/units.ts (the same
// formatting as the CLI's tables).
import { formatBytes, formatRate } from '../../../src/core/units';

export const dash = '–';

export function perSecond(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return dash;
  return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en');
}

export function bytesPerSecond(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? dash : `${formatBytes(v)}/s`;
}

export function bitRate(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? dash : formatRate(v);
}

export function percent(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? dash : `${(v * 100).toFixed(1)} %`;
}

export function count(v: number | null | undefined): string {
  return v == null || !Number.isFinite(v) ? dash : v.toLocaleString('en');
}

/** Element helper: tag, attributes, children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** A definition list from [term, value, testid?] rows. */
export function dl(rows: Array<[string, string, string?]>): HTMLDListElement {
  const d = el('dl');
  for (const [k, v, id] of rows) d.append(el('dt', {}, k), el('dd', id ? { 'data-testid': id } : {}, v));
  return d;
}
