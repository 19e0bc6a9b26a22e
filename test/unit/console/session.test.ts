import { describe, expect, it } from 'vitest';
import { MAX_SESSIONS, MAX_SESSIONS_PER_TENANT, SessionStore } from '../../../lib/console/session.js';

describe('SessionStore', () => {
  it('past the bound of all sessions, a login ends the oldest session of the tenant holding the most', () => {
    const sessions = new SessionStore(() => 0);
    // 990 sessions: t0 holds 90, t1 to t9 each hold the tenant's bound (100), t10 the last 10.
    const first = new Map<string, string>();
    const logIn = (tenant: string) => {
      const s = sessions.create(tenant);
      if (!first.has(tenant)) first.set(tenant, s.id);
    };
    for (let i = 0; i < 90; i++) logIn('t0');
    for (let t = 1; t <= 9; t++) for (let i = 0; i < MAX_SESSIONS_PER_TENANT; i++) logIn(`t${t}`);
    for (let i = 0; i < MAX_SESSIONS - 990; i++) logIn('t10');
    const ids = [...first.values()];
    expect(ids.every((id) => sessions.get(id) !== undefined)).toBe(true);

    // t1 to t9 tie at 100: the first of them to log in (t1) gives up its oldest session.
    const acme = sessions.create('acme');
    expect(sessions.get(acme.id)?.tenant).toBe('acme');
    expect(sessions.get(first.get('t1'))).toBeUndefined();
    expect([...first].filter(([, id]) => sessions.get(id) === undefined).map(([t]) => t)).toEqual(['t1']);
  });
});
