import { hubErrors } from '../errors';
import { isValidKey } from '../keys';
import { isValidThumbprint } from './thumbprint';

/** How an identity authenticates, as IoT Hub's `authentication.type` names it. */
export type AuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority';

/**
 * The `authentication` of a REST identity body, checked. SAS keys are empty strings when the hub is to generate
 * them (or keep the current ones); a self-signed identity has a primary thumbprint and maybe a secondary.
 */
export type IdentityAuthentication =
  | { readonly type: 'sas'; readonly primaryKey: string; readonly secondaryKey: string }
  | {
      readonly type: 'selfSigned';
      readonly primaryThumbprint: string;
      readonly secondaryThumbprint: string | null;
    }
  | { readonly type: 'certificateAuthority' };

/** `authentication` as IoT Hub's REST API shows it: keys null for X.509, thumbprints null unless self-signed. */
export interface AuthenticationDescription {
  symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
  type: AuthenticationType;
}

/**
 * Reads `authentication` from a device body; undefined when absent (an update then keeps the current one). A
 * missing `type` is inferred as azure-iothub's Registry does (`_normalizeAuthentication`): `selfSigned` when a
 * thumbprint is given, else `sas`. Thumbprints are SHA-1 (40 hex digits) or SHA-256 (64), any case; the primary
 * is required; the two must have the same length (as Microsoft.Azure.Devices' X509Thumbprint check).
 */
export function readAuthentication(value: unknown): IdentityAuthentication | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw hubErrors.argumentInvalid('authentication must be an object.');
  }
  const { type, symmetricKey, x509Thumbprint } = value as {
    type?: unknown;
    symmetricKey?: unknown;
    x509Thumbprint?: unknown;
  };
  const thumbprints = readThumbprints(x509Thumbprint);
  const effective = type ?? (thumbprints.primary || thumbprints.secondary ? 'selfSigned' : 'sas');
  switch (effective) {
    case 'sas':
      if (thumbprints.primary || thumbprints.secondary) {
        throw hubErrors.argumentInvalid(
          'A device with authentication type "sas" cannot have X.509 thumbprints.',
        );
      }
      return { type: 'sas', ...readSymmetricKeys(symmetricKey) };
    case 'selfSigned':
      rejectKeys(symmetricKey, 'selfSigned');
      if (!thumbprints.primary) {
        throw hubErrors.argumentInvalid(
          'A device with authentication type "selfSigned" needs x509Thumbprint.primaryThumbprint.',
        );
      }
      if (thumbprints.secondary && thumbprints.secondary.length !== thumbprints.primary.length) {
        throw hubErrors.argumentInvalid(
          'The primary and secondary thumbprints must both be SHA-1 or both SHA-256.',
        );
      }
      return {
        type: 'selfSigned',
        primaryThumbprint: thumbprints.primary,
        secondaryThumbprint: thumbprints.secondary ?? null,
      };
    case 'certificateAuthority':
      rejectKeys(symmetricKey, 'certificateAuthority');
      if (thumbprints.primary || thumbprints.secondary) {
        throw hubErrors.argumentInvalid(
          'A device with authentication type "certificateAuthority" cannot have X.509 thumbprints.',
        );
      }
      return { type: 'certificateAuthority' };
    default:
      throw hubErrors.argumentInvalid(
        `Invalid authentication type ${JSON.stringify(effective)}: use "sas", "selfSigned" or "certificateAuthority".`,
      );
  }
}

/** The symmetric keys of a body: both, or neither (empty strings) so that the hub generates them. */
export function readSymmetricKeys(symmetricKey: unknown): { primaryKey: string; secondaryKey: string } {
  if (symmetricKey === undefined || symmetricKey === null) return { primaryKey: '', secondaryKey: '' };
  if (typeof symmetricKey !== 'object') throw hubErrors.argumentInvalid('symmetricKey must be an object.');
  const { primaryKey, secondaryKey } = symmetricKey as { primaryKey?: unknown; secondaryKey?: unknown };
  const keys = {
    primaryKey: readKey(primaryKey, 'primaryKey'),
    secondaryKey: readKey(secondaryKey, 'secondaryKey'),
  };
  if ((keys.primaryKey === '') !== (keys.secondaryKey === '')) {
    throw hubErrors.argumentInvalid('Give both symmetric keys, or neither so that the hub generates them.');
  }
  return keys;
}

function readKey(value: unknown, name: string): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !isValidKey(value)) {
    throw hubErrors.argumentInvalid(`${name} must be a base64-encoded key of 16 to 64 bytes.`);
  }
  return value;
}

/** An X.509 identity has no keys: azure-iothub sends none (or empty ones); real keys are a mistake. */
function rejectKeys(symmetricKey: unknown, type: AuthenticationType): void {
  const keys = readSymmetricKeys(symmetricKey);
  if (keys.primaryKey !== '' || keys.secondaryKey !== '') {
    throw hubErrors.argumentInvalid(
      `A device with authentication type "${type}" cannot have symmetric keys.`,
    );
  }
}

function readThumbprints(value: unknown): { primary?: string; secondary?: string } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw hubErrors.argumentInvalid('x509Thumbprint must be an object.');
  const { primaryThumbprint, secondaryThumbprint } = value as {
    primaryThumbprint?: unknown;
    secondaryThumbprint?: unknown;
  };
  const primary = readThumbprint(primaryThumbprint, 'primaryThumbprint');
  const secondary = readThumbprint(secondaryThumbprint, 'secondaryThumbprint');
  return { ...(primary ? { primary } : {}), ...(secondary ? { secondary } : {}) };
}

function readThumbprint(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !isValidThumbprint(value)) {
    throw hubErrors.argumentInvalid(
      `${name} must be a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) certificate thumbprint.`,
    );
  }
  return value;
}
