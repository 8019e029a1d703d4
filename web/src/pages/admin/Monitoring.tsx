// The operator dashboard: `GET /api/v1/monitoring/dashboard` polled every 2 s, the last
// five minutes of polls drawn as live charts, a status strip from its `health` part and
// the current figures. What each chart plots is in lib/monitoring.ts.
import { useEffect, useMemo, useState } from 'react';
import { api, ApiError } from '../../lib/api';
import { LineChart } from '../../components/LineChart';
import {
  CHARTS, checkFigure, checkState, fmt, linesOf, pillOf, POLL_MS, pushSample, STATS, type Dashboard,
} from '../../lib/monitoring';

/** The window of polls, and the last error (the window stays: the charts show the gap). */
export function useDashboard(pollMs = POLL_MS) {
  const [samples, setSamples] = useState<Dashboard[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // One request at a time: the next one is timed from the start of this one, so a
    // slow answer delays the next poll instead of piling requests up.
    const poll = async () => {
      const started = Date.now();
      try {
        const d = await api.monitoringDashboard();
        if (stopped) return;
        setSamples((s) => pushSample(s, d));
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(e instanceof ApiError ? `${e.message} (${e.code})` : String(e));
      }
      timer = setTimeout(poll, Math.max(0, pollMs - (Date.now() - started)));
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [pollMs]);
  return { samples, error };
}

export function Monitoring() {
  const { samples, error } = useDashboard();
  return <MonitoringView samples={samples} error={error} />;
}

export function MonitoringView({ samples, error }: { samples: Dashboard[]; error: string | null }) {
  const last = samples[samples.length - 1];
  const lines = useMemo(() => CHARTS.map((c) => linesOf(c, samples)), [samples]);
  return (
    <div className="monitoring" data-testid="monitoring" data-samples={samples.length}>
      <h2>Monitoring</h2>
      {error && <p className="err" data-testid="monitoring-error">{error}</p>}
      <StatusStrip d={last} />
      <div className="mon-charts">
        {CHARTS.map((c, i) => <LineChart key={c.id} chart={c} lines={lines[i]} />)}
      </div>
      <div className="card mon-stats" data-testid="mon-stats">
        {STATS.map((s) => {
          const v = last ? s.value(last) : null;
          return (
            <div key={s.key} className="mon-stat">
              <span className="muted">{s.label}</span>
              <b className="mono" data-testid={`stat-${s.key}`} data-value={v ?? ''}>
                {v === null ? '—' : `${fmt(v, s.unit === '')}${s.unit ? ` ${s.unit}` : ''}`}
              </b>
            </div>
          );
        })}
      </div>
      {last && (
        <p className="muted">
          Server time {new Date(last.time_ms).toLocaleTimeString('en-GB', { hour12: false })}; refreshed every {POLL_MS / 1000} s;
          rates per second over the last minute; latency percentiles over the last minute.
        </p>
      )}
    </div>
  );
}

function StatusStrip({ d }: { d: Dashboard | undefined }) {
  const status = d?.health?.status ?? 'unknown';
  const checks = Object.entries(d?.health?.checks ?? {});
  return (
    <div className="card mon-strip" data-testid="status-strip">
      <span className="mon-check">
        <span className="muted">Server</span>
        <span className={`pill ${pillOf(status)}`} data-testid="status-overall">{status}</span>
      </span>
      {checks.map(([name, c]) => {
        const state = checkState(name, c);
        const figure = checkFigure(c);
        return (
          <span key={name} className="mon-check" title={c.detail ?? undefined} data-testid={`check-${name}`} data-state={state}>
            <span className="muted">{name.replace(/_/g, ' ')}</span>
            <span className={`pill ${pillOf(state)}`}>{state}</span>
            {c.detail && <span className="mono">{c.detail}</span>}
            {figure && <span className="mono muted">{figure}</span>}
          </span>
        );
      })}
    </div>
  );
}
