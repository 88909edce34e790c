import type { ApiRequest } from './http.js';

/**
 * Decides whether a request may read a second app, beyond the one in its path (`other-app::b101`, copy from
 * `other-app::DATABASE`). API Gateway's IAM authorizer has already vouched for the path's app only. In AWS the
 * answer comes from IAM for the request's own caller (src/adapters/aws/iam-app-access.ts).
 */
export interface AppAccessVerifier {
  /** Resolves when the caller may act on `app`; throws ForbiddenError otherwise. */
  verify(req: ApiRequest, app: string): Promise<void>;
}

/** The local stack has no authentication at all: every app is reachable by whoever reaches the port. */
export const localAccess: AppAccessVerifier = { verify: async () => {} };
