// theme.ts - chart colours from the page's CSS custom properties, so light
// and dark (prefers-color-scheme, style in index.html) have one source.
// Charts are rebuilt when the scheme changes (main.ts).
export interface Theme {
  fg: string;
  muted: string;
  grid: string;
  egress: string;
  ingress: string;
  egressSoft: string;
  ingressSoft: string;
  stack: string;
  virt: string;
  stackIn: string;
  virtIn: string;
  limit: string;
  font: string;
}

export function theme(): Theme {
  const s = getComputedStyle(document.documentElement);
  const v = (name: string): string => s.getPropertyValue(name).trim();
  return {
    fg: v('--fg'),
    muted: v('--muted'),
    grid: v('--grid'),
    egress: v('--egress'),
    ingress: v('--ingress'),
    egressSoft: v('--egress-soft'),
    ingressSoft: v('--ingress-soft'),
    stack: v('--stack'),
    virt: v('--virt'),
    stackIn: v('--stack-in'),
    virtIn: v('--virt-in'),
    limit: v('--limit'),
    font: `12px ${v('--font') || 'system-ui, sans-serif'}`,
  };
}

/** An axis in the theme's colours, with its unit in the label. */
export function axis(t: Theme, label: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    label,
    stroke: t.muted,
    font: t.font,
    labelFont: t.font,
    grid: { stroke: t.grid, width: 1 },
    ticks: { stroke: t.grid, width: 1 },
    ...extra,
  };
}
