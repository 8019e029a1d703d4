// System status from `/health` (and the core's state summary). The live charts are the
// Monitoring page.
import { useEffect, useState } from 'react';
import { api } from '../../lib/api';

type Obj = Record<string, unknown>;

const fmtUptime = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
};

export function Status() {
  const [health, setHealth] = useState<Obj | null>(null);
  const [core, setCore] = useState<Obj | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = () => {
      // /health answers 503 with the same body when unhealthy: read the body either way.
      fetch('/health')
        .then((r) => r.json())
        .then((h: Obj) => { setHealth(h); setError(null); }, (e) => setError(String(e)));
      api.adminState().then(setCore, () => setCore(null));
    };
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, []);
  const status = String(health?.status ?? 'unknown');
  const pill = status === 'healthy' ? 'ok' : status === 'degraded' ? 'warn' : 'bad';
  return (
    <>
      <h2>System status</h2>
      {error && <p className="err">{error}</p>}
      <div className="card kv" data-testid="health">
        <span>Status</span><span><span className={`pill ${pill}`} data-testid="health-status">{status}</span></span>
        {health &&
          Object.entries(health)
            .filter(([k]) => k !== 'status')
            .map(([k, v]) => [
              <span key={`${k}-k`}>{k.replace(/_/g, ' ')}</span>,
              <span key={`${k}-v`} className="mono" data-testid={`health-${k}`}>{k === 'uptime_ms' && typeof v === 'number' ? fmtUptime(v) : v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</span>,
            ])}
      </div>
      {core && (
        <div className="card kv">
          {Object.entries(core).map(([k, v]) => [
            <span key={`${k}-k`}>{k.replace(/_/g, ' ')}</span>,
            <span key={`${k}-v`} className="mono">{String(v)}</span>,
          ])}
        </div>
      )}
    </>
  );
}
