import { ForbiddenError } from '../core/errors.js';
import type { ApiRequest } from './http.js';

/** Header carrying the proof of access to another app: a presigned URL for `GET /v1/apps/<app>/access`. */
export const ACCESS_PROOF_HEADER = 'x-pgbackups-access-proof';

/**
 * Decides whether a request may read a second app, beyond the one in its path (`other-app::b101`, copy from
 * `other-app::DATABASE`). API Gateway's IAM authorizer has already vouched for the path's app only.
 */
export interface AppAccessVerifier {
  /** Resolves when the caller may act on `app`; throws ForbiddenError otherwise. */
  verify(req: ApiRequest, app: string): Promise<void>;
}

/** The local stack has no authentication at all: every app is reachable by whoever reaches the port. */
export const localAccess: AppAccessVerifier = { verify: async () => {} };

/**
 * IAM decides, not this code: the client presigns (SigV4, short expiry) a GET of `/v1/apps/<app>/access` on this
 * same API, and we call it. API Gateway answers 200 only if the caller's credentials are allowed on that app's
 * path; the signature covers the path, so the proof is good for nothing else.
 */
export function presignedProofAccess(
  opts: { readonly fetch?: typeof fetch; readonly timeoutMs?: number } = {},
): AppAccessVerifier {
  const doFetch = opts.fetch ?? fetch;
  return {
    async verify(req, app) {
      const hint = `Requests that read ${app} must prove access to it: send header ${ACCESS_PROOF_HEADER} with a presigned GET of /v1/apps/${app}/access (the pgbackups CLI does this)`;
      // One proof per other app, separated by spaces (a copy between two other apps needs two).
      const proofs = (req.headers?.[ACCESS_PROOF_HEADER] ?? '').split(/\s+/).filter(Boolean);
      if (proofs.length === 0) throw new ForbiddenError(hint);
      const urls = proofs.map((p) => URL.parse(p));
      if (urls.some((u) => u === null)) throw new ForbiddenError(`Malformed access proof. ${hint}`);
      // Only our own API, only the access route of exactly that app: the server must not become a fetch proxy.
      const url = (urls as URL[]).find(
        (u) =>
          req.origin !== undefined &&
          u.origin === req.origin &&
          u.pathname.endsWith(`/v1/apps/${app}/access`),
      );
      if (!url) throw new ForbiddenError(`No access proof for ${app} on this API. ${hint}`);
      const res = await doFetch(url, {
        method: 'GET',
        redirect: 'error',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      }).catch(() => undefined);
      await res?.body?.cancel().catch(() => {});
      if (res?.status !== 200)
        throw new ForbiddenError(`Access to ${app} was not granted for these credentials`);
    },
  };
}
