// Cumulative depth: bids (green) left of the mid, asks (red) right. Canvas 2D, no inline
// styles or scripts, so it works under the strict CSP.
import { useEffect, useRef } from 'react';
import { askLevels, bidLevels, withCumulative, type Book } from '../lib/book';

export function DepthChart({ book }: { book: Book | null }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const draw = () => {
      const dpr = window.devicePixelRatio || 1;
      const w = el.clientWidth;
      const h = el.clientHeight;
      if (!w || !h) return;
      el.width = w * dpr;
      el.height = h * dpr;
      const g = el.getContext('2d');
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = '#14181f';
      g.fillRect(0, 0, w, h);
      if (!book) return;
      const bids = withCumulative(bidLevels(book, 60)).map((l) => [+l.price, +l.total] as const);
      const asks = withCumulative(askLevels(book, 60)).map((l) => [+l.price, +l.total] as const);
      if (!bids.length && !asks.length) {
        g.fillStyle = '#5d6571';
        g.fillText('No orders', w / 2 - 24, h / 2);
        return;
      }
      const prices = [...bids, ...asks].map((x) => x[0]);
      const lo = Math.min(...prices);
      const hi = Math.max(...prices);
      const top = Math.max(...bids.map((x) => x[1]), ...asks.map((x) => x[1]), 0) * 1.1 || 1;
      const pad = 24;
      const x = (p: number) => (hi === lo ? w / 2 : ((p - lo) / (hi - lo)) * (w - 2 * pad) + pad);
      const y = (q: number) => h - 20 - (q / top) * (h - 36);
      const area = (pts: readonly (readonly [number, number])[], stroke: string, fill: string) => {
        if (!pts.length) return;
        g.beginPath();
        g.moveTo(x(pts[0][0]), y(0));
        for (const [p, q] of pts) {
          g.lineTo(x(p), y(q));
        }
        g.lineTo(x(pts[pts.length - 1][0]), y(0));
        g.closePath();
        g.fillStyle = fill;
        g.fill();
        g.strokeStyle = stroke;
        g.lineWidth = 1.5;
        g.stroke();
      };
      // Steps: each level holds its cumulative size until the next price.
      const steps = (pts: readonly (readonly [number, number])[]) =>
        pts.flatMap(([p, q], i) => (i === 0 ? [[p, 0] as const, [p, q] as const] : [[p, pts[i - 1][1]] as const, [p, q] as const]));
      area(steps(bids), '#16c784', 'rgba(22,199,132,.18)');
      area(steps(asks), '#f6465d', 'rgba(246,70,93,.18)');
      g.fillStyle = '#8a93a0';
      g.font = '11px system-ui, sans-serif';
      g.fillText(String(lo), 4, h - 4);
      const hiText = String(hi);
      g.fillText(hiText, w - g.measureText(hiText).width - 4, h - 4);
      g.fillText(`max ${Number((top / 1.1).toPrecision(6))}`, 4, 12);
    };
    draw();
    const ro = new ResizeObserver(draw);
    ro.observe(el);
    return () => ro.disconnect();
  }, [book]);
  return (
    <div className="chart-box">
      <canvas ref={canvas} className="depth" data-testid="depth-chart" />
    </div>
  );
}
