import { hubErrors } from '../errors';
import { hasRight, type Right, type SharedAccessPolicy } from '../policies';
import { parseSasToken, verifySasToken } from './sas';
import { namesHub, parseTokenScope, scopeCovers, type HubHost } from './token-scope';

export interface ServiceAuthContext {
  readonly hostName: string;
  /** Every name the hub answers to in a token's `sr` (defaults to `hostName` alone). */
  readonly names?: HubHost;
  readonly policy: (keyName: string) => SharedAccessPolicy | undefined;
}

/** A service caller whose token was genuine: its policy, and the path its token's `sr` covers. */
export interface ServiceCaller {
  readonly policy: SharedAccessPolicy;
  readonly scope: readonly string[];
}

/**
 * Authenticates the `Authorization` header of a service REST call, before any routing (as IoT Hub does: an
 * unauthenticated request learns nothing, not even whether a path exists): a SAS token for this hub, signed
 * with a shared access policy key, not expired. Anything else is 401.
 */
export function authenticateServiceRequest(
  context: ServiceAuthContext,
  header: string | undefined,
): ServiceCaller {
  if (!header)
    throw hubErrors.unauthorized(
      'The Authorization header is missing. Send a SharedAccessSignature for a shared access policy.',
    );
  if (header.startsWith('Bearer ')) {
    throw hubErrors.unauthorized(
      'The emulator does not accept Microsoft Entra tokens; use a shared access policy connection string.',
    );
  }
  const token = parseSasToken(header);
  if (!token) throw hubErrors.unauthorized('The Authorization header is not a valid SharedAccessSignature.');
  if (token.keyName === undefined) {
    throw hubErrors.unauthorized(
      'The token has no skn: service calls need a shared access policy token, not a device token.',
    );
  }
  const scope = parseTokenScope(token.resource);
  if (!namesHub(context.names ?? context.hostName, scope.host)) {
    throw hubErrors.unauthorized(`The token's resource (sr) is not this hub (${context.hostName}).`);
  }
  const policy = context.policy(token.keyName);
  if (!policy) throw hubErrors.unauthorized(`Unknown shared access policy "${token.keyName}".`);
  const failure = verifySasToken(token, [policy.primaryKey, policy.secondaryKey]);
  if (failure === 'expired') throw hubErrors.unauthorized('The SharedAccessSignature has expired.');
  if (failure)
    throw hubErrors.unauthorized(`The signature does not match the keys of policy "${token.keyName}".`);
  return { policy, scope: scope.segments };
}

/**
 * Authorizes an authenticated caller for one operation: its token's `sr` must cover `resource` (the operation's
 * path segments, e.g. `devices/dev1`; else 401, as for any token that does not grant the resource), and its
 * policy must grant `right` (else 403).
 */
export function authorizeServiceCaller(
  caller: ServiceCaller,
  right: Right,
  resource: readonly string[],
): void {
  if (!scopeCovers(caller.scope, resource)) {
    throw hubErrors.unauthorized(
      `The token's resource (sr) does not cover /${resource.join('/')}: it grants only what is under ` +
        `/${caller.scope.join('/')}.`,
    );
  }
  if (!hasRight(caller.policy, right)) {
    throw hubErrors.forbidden(
      `Policy "${caller.policy.keyName}" does not grant ${right}, which this operation needs.`,
    );
  }
}
