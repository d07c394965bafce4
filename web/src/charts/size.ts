// size.ts - keeps a chart as wide as its box (the box's height is fixed in
// CSS, so nothing below moves when data arrives or the window is resized).
import type uPlot from 'uplot';

export function fitWidth(u: uPlot, box: HTMLElement, height: number): () => void {
  const fit = (): void => {
    const w = Math.max(200, Math.floor(box.clientWidth));
    if (w !== u.width) u.setSize({ width: w, height });
  };
  const ro = new ResizeObserver(fit);
  ro.observe(box);
  return () => ro.disconnect();
}

/** What every chart's uPlot options start with: the box's width, a fixed height, no drag-zoom, a static legend. */
export function frame(box: HTMLElement, height: number): Pick<uPlot.Options, 'width' | 'height' | 'cursor' | 'legend'> {
  return { width: Math.max(200, box.clientWidth), height, cursor: { drag: { x: false, y: false } }, legend: { live: false } };
}
