import { hasRight, type SharedAccessPolicy } from '../policies';
import { parseSasToken, verifySasToken } from './sas';
import { scopeCovers } from './token-scope';

/** Why a token was refused, with the status IoT Hub's Event Hub-compatible endpoint answers. */
export class TokenRefusedError extends Error {
  override readonly name = 'TokenRefusedError';
  constructor(
    readonly statusCode: 401 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An audience or link address as a path inside the namespace: `sb://host:5672/hub/ConsumerGroups/$Default` and
 * `/hub/ConsumerGroups/$Default` both give `hub/consumergroups/$default` (Event Hubs names are case-insensitive).
 */
export function entityPath(audienceOrAddress: string): string {
  let path = audienceOrAddress.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (scheme) path = path.slice(scheme[0].length);
  return path.replace(/^\/+|\/+$/g, '').toLowerCase();
}

/**
 * Whether `granted` (a token's scope, an entity path) covers `wanted`: the same path or a parent of it, segment by
 * segment, by the rule every token check of the emulator uses (auth/token-scope.ts).
 */
export function covers(granted: string, wanted: string): boolean {
  const segments = (path: string) => path.split('/').filter((segment) => segment !== '');
  return scopeCovers(segments(granted), segments(wanted));
}

export interface VerifiedToken {
  readonly policy: SharedAccessPolicy;
  /** The path the token was signed for. */
  readonly scope: string;
  readonly expiresAtMs: number;
}

/**
 * Checks a SAS token as the Event Hub-compatible endpoint does: signed with the UTF-8 bytes of a shared access
 * policy key (the Event Hubs rule), not expired, for a resource covering `audience`, by a policy with
 * ServiceConnect (iothubowner, service). `hubName` is the only entity this namespace has.
 */
export function verifyEventHubToken(
  token: string,
  audience: string,
  hubName: string,
  policyByName: (keyName: string) => SharedAccessPolicy | undefined,
  nowMs = Date.now(),
): VerifiedToken {
  const parsed = parseSasToken(token);
  if (!parsed) {
    throw new TokenRefusedError(
      401,
      'InvalidToken: the token is not a SharedAccessSignature with sr, sig and se.',
    );
  }
  if (parsed.keyName === undefined) {
    throw new TokenRefusedError(401, 'InvalidToken: the token has no skn (shared access policy name).');
  }
  const policy = policyByName(parsed.keyName);
  if (!policy) {
    throw new TokenRefusedError(401, `InvalidSignature: unknown shared access policy "${parsed.keyName}".`);
  }
  const failure = verifySasToken(parsed, [policy.primaryKey, policy.secondaryKey], nowMs, 'utf8');
  if (failure === 'expired') throw new TokenRefusedError(401, 'ExpiredToken: the token has expired.');
  if (failure) throw new TokenRefusedError(401, 'InvalidSignature: the token has an invalid signature.');
  const scope = entityPath(parsed.resource);
  const wanted = entityPath(audience);
  if (!covers(scope, wanted)) {
    throw new TokenRefusedError(401, `InvalidAudience: the token's resource does not cover "${audience}".`);
  }
  const hub = hubName.toLowerCase();
  if (!(wanted === hub || wanted.startsWith(`${hub}/`))) {
    throw new TokenRefusedError(404, `The messaging entity "${audience}" could not be found.`);
  }
  if (!hasRight(policy, 'ServiceConnect')) {
    throw new TokenRefusedError(
      403,
      `Unauthorized: policy "${policy.keyName}" lacks ServiceConnect, which reading telemetry needs ` +
        '(use iothubowner or service).',
    );
  }
  return { policy, scope: wanted, expiresAtMs: parsed.expiry * 1000 };
}
