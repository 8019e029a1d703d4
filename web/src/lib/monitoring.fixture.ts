// One answer of `GET /api/v1/monitoring/dashboard`, field for field as the contract
// (docs: the OpenAPI document; /health's checks as crates/http/src/monitoring/checks.rs
// writes them), kept as JSON so the browser test can compare the live server's answer
// with it key by key: a renamed or retyped field fails there as well as here.
import raw from './dashboard.fixture.json';
import type { Dashboard, HealthState } from './monitoring';

// JSON gives `status` the type string; everything else is checked against Dashboard.
export const DASHBOARD: Dashboard = { ...raw, health: { ...raw.health, status: raw.health.status as HealthState } };

/** The fixture `seconds` later, with `f` applied to a copy (a later poll). */
export function later(seconds: number, f: (d: Dashboard) => void = () => {}, from: Dashboard = DASHBOARD): Dashboard {
  const d: Dashboard = structuredClone(from);
  d.time_ms += seconds * 1000;
  f(d);
  return d;
}
