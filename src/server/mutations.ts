// mutations.ts - the operations that change the daemon, one definition for
// the HTTP routes and the WebSocket control messages (both validate first).
import type { ClientMessage, ContainerView, LimitBody } from '../core/protocol';
import type { Daemon } from './daemon';

export type Mutation =
  | { type: 'trace'; spec: string; label?: string }
  | { type: 'untrace'; container: string }
  | { type: 'limit'; container: string; rate: LimitBody['rate']; horizon?: LimitBody['horizon'] }
  | { type: 'unlimit'; container: string };

/** Runs a validated mutation from a client; returns the container's new view. */
export function runMutation(daemon: Daemon, m: Mutation | Extract<ClientMessage, { type: Mutation['type'] }>): ContainerView {
  switch (m.type) {
    case 'trace':
      return daemon.view(daemon.trace(m.spec, { label: m.label, remote: true }));
    case 'untrace':
      return daemon.view(daemon.untrace(m.container));
    case 'limit':
      return daemon.view(daemon.setLimit(m.container, { rate: m.rate, horizon: m.horizon }));
    case 'unlimit':
      return daemon.view(daemon.unlimit(m.container));
  }
}
