// Who the audit log names for a Defense change. Over TCP the caller is authenticated (token or
// client certificate, src/api/auth.ts), so the recorded actor IS that identity; a request that
// also names a person keeps it as a note: "ops-token (as alice)" — a shared operator token used by
// several people stays traceable to who said they were acting, without letting anyone pose as
// someone else's identity. Over the unix socket the daemon cannot learn the peer: Node exposes
// neither SO_PEERCRED nor the peer's uid, so the request's own actor is recorded with a "unix:"
// prefix, which says it was claimed, not proven. An empty actor is refused there (never recorded).
import type * as grpc from '@grpc/grpc-js';
import { readOrigin, type ChangeOrigin } from '../model/index.js';
import { callerName } from './auth.js';

export interface RequestedOrigin { actor?: string; reason?: string; duration?: string }

export function recordedOrigin(requested: RequestedOrigin | null | undefined, path: string, metadata: grpc.Metadata): ChangeOrigin {
  const identity = callerName(metadata);
  const claimed = requested?.actor ?? '';
  if (identity === undefined) {
    const origin = readOrigin(claimed, requested?.reason, requested?.duration, path);
    return { ...origin, actor: `unix:${origin.actor}` };
  }
  // readOrigin still checks the claimed actor's length; without a claim the identity stands alone.
  const origin = readOrigin(claimed || identity, requested?.reason, requested?.duration, path);
  return { ...origin, actor: claimed && claimed !== identity ? `${identity} (as ${claimed})` : identity };
}
