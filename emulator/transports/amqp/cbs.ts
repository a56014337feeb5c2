import type { Connection } from 'rhea';
import { TokenRefusedError } from '../../hub/auth/event-hub-auth';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import type { ClaimStore } from './claims';
import type { RequestReply } from './request-reply';
import { describeClientValue } from './client-values';

/**
 * `$cbs` put-token: checks the token with the hub (Event Hubs' signing rule, the scope rule of every token check)
 * and records the claim on the connection. 202 when accepted; 401, 403 or 404 as the token deserves.
 */
export function putToken(
  hub: IotHub,
  claims: ClaimStore,
  connection: Connection,
  properties: Readonly<Record<string, unknown>>,
  body: unknown,
  log: Logger,
): RequestReply {
  if (properties.operation !== 'put-token') {
    return {
      statusCode: 400,
      errorCondition: 'amqp:not-implemented',
      statusDescription: `The $cbs operation "${describeClientValue(properties.operation, 40)}" is not supported; use put-token.`,
    };
  }
  const audience = typeof properties.name === 'string' ? properties.name : '';
  if (properties.type === 'jwt') {
    return {
      statusCode: 401,
      errorCondition: 'amqp:unauthorized-access',
      statusDescription:
        'The emulator does not accept Microsoft Entra tokens; use a shared access policy connection string.',
    };
  }
  const token = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
  try {
    const verified = hub.verifyEventHubToken(token, audience);
    claims.put(connection, verified.scope, verified.expiresAtMs);
    return { statusCode: 202, statusDescription: 'Accepted' };
  } catch (error) {
    if (!(error instanceof TokenRefusedError)) throw error;
    log.warn(`AMQP put-token for "${audience.slice(0, 200)}" refused: ${error.message}`);
    return {
      statusCode: error.statusCode,
      errorCondition: error.statusCode === 404 ? 'amqp:not-found' : 'amqp:unauthorized-access',
      statusDescription: error.message,
    };
  }
}

/** `$management` takes the token in the request (JS and .NET send it) or a claim put on `$cbs` before. */
export function authorizeManagement(
  hub: IotHub,
  claims: ClaimStore,
  connection: Connection,
  securityToken: unknown,
): RequestReply | undefined {
  const path = `${hub.hubName.toLowerCase()}/$management`;
  if (typeof securityToken === 'string' && securityToken !== '') {
    try {
      hub.verifyEventHubToken(securityToken, path);
      return undefined;
    } catch (error) {
      if (!(error instanceof TokenRefusedError)) throw error;
      return {
        statusCode: error.statusCode,
        errorCondition: 'amqp:unauthorized-access',
        statusDescription: error.message,
      };
    }
  }
  const denied = claims.check(connection, path);
  return denied
    ? { statusCode: 401, errorCondition: denied.condition, statusDescription: denied.description }
    : undefined;
}
