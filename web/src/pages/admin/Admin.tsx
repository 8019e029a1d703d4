// The admin console: a side menu over a table of pages. A new page (audit log, …) is one
// entry in PAGES.
import type { ComponentType } from 'react';
import { Link } from '../../router';
import { Markets } from './Markets';
import { Monitoring } from './Monitoring';
import { Status } from './Status';
import { Users } from './Users';
import { Withdrawals } from './Withdrawals';

export const PAGES: { path: string; label: string; page: ComponentType }[] = [
  { path: 'users', label: 'Users', page: Users },
  { path: 'withdrawals', label: 'Withdrawals', page: Withdrawals },
  { path: 'markets', label: 'Markets', page: Markets },
  { path: 'status', label: 'System status', page: Status },
  { path: 'monitoring', label: 'Monitoring', page: Monitoring },
];

export function Admin({ sub }: { sub: string }) {
  const current = PAGES.find((p) => p.path === sub) ?? PAGES[0];
  const Page = current.page;
  return (
    <div className="admin">
      <nav className="admin-nav">
        {PAGES.map((p) => (
          <Link key={p.path} to={`/admin/${p.path}`} className={p === current ? 'active' : ''} data-testid={`admin-${p.path}`}>
            {p.label}
          </Link>
        ))}
      </nav>
      <div className="page">
        <Page />
      </div>
    </div>
  );
}
