import { hubErrors } from '../errors';
import { hasRight, type Right, type SharedAccessPolicy } from '../policies';
import { parseSasToken, verifySasToken } from '../sas';

export interface ServiceAuthContext {
  readonly hostName: string;
  readonly policy: (keyName: string) => SharedAccessPolicy | undefined;
}

/**
 * Checks the `Authorization` header of a service REST call: a SAS token for this hub signed with a shared access
 * policy key (401 when missing, malformed, wrongly signed or expired), whose policy grants `right` (else 403).
 */
export function authorizeServiceRequest(
  context: ServiceAuthContext,
  header: string | undefined,
  right: Right,
): SharedAccessPolicy {
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
  const host = context.hostName.toLowerCase();
  const resource = token.resource.toLowerCase();
  if (resource !== host && !resource.startsWith(`${host}/`)) {
    throw hubErrors.unauthorized(`The token's resource (sr) is not this hub (${context.hostName}).`);
  }
  const policy = context.policy(token.keyName);
  if (!policy) throw hubErrors.unauthorized(`Unknown shared access policy "${token.keyName}".`);
  const failure = verifySasToken(token, [policy.primaryKey, policy.secondaryKey]);
  if (failure === 'expired') throw hubErrors.unauthorized('The SharedAccessSignature has expired.');
  if (failure)
    throw hubErrors.unauthorized(`The signature does not match the keys of policy "${token.keyName}".`);
  if (!hasRight(policy, right)) {
    throw hubErrors.forbidden(
      `Policy "${policy.keyName}" does not grant ${right}, which this operation needs.`,
    );
  }
  return policy;
}
