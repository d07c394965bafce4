// banner.ts - the one line under the header that says what is wrong, most
// important first: daemon gone, wrong token, a failed action (e.g. tracing
// not permitted), no token (read-only), nothing traced.
import type { ContainerView } from '../../../src/core/protocol';
import type { LinkState } from '../connection';

export type Problem = { kind: 'token' | 'action' | 'gone'; message: string };

export interface Banner {
  kind: 'gone' | 'connecting' | 'token' | 'action' | 'no-token' | 'nothing-traced';
  level: 'error' | 'warn';
  text: string;
}

export function bannerFor(s: { link: LinkState; token: boolean; authenticated: boolean; problem: Problem | undefined; containers: ContainerView[] }): Banner | undefined {
  if (s.link.kind === 'closed') {
    return { kind: 'gone', level: 'error', text: `Disconnected from the daemon: ${s.link.reason}. Reconnecting automatically; if it stays away, start it again (npm start, or macebpf serve).` };
  }
  if (s.link.kind === 'connecting' && s.link.attempt > 0) return { kind: 'connecting', level: 'warn', text: 'Reconnecting to the daemon…' };
  if (s.problem?.kind === 'token') return { kind: 'token', level: 'error', text: `The token in this page's URL was refused (${s.problem.message}). Open the URL macebpf printed at start; the page stays read-only until then.` };
  if (s.problem?.kind === 'action') return { kind: 'action', level: 'error', text: s.problem.message };
  if (!s.token) return { kind: 'no-token', level: 'warn', text: 'No token in this URL: the page is read-only. To trace, untrace or limit, open the URL macebpf printed at start (it ends in #token=…).' };
  if (s.link.kind === 'open' && !s.containers.some((c) => c.traced)) return { kind: 'nothing-traced', level: 'warn', text: 'Nothing is traced right now: turn tracing on for a container below.' };
  return undefined;
}
