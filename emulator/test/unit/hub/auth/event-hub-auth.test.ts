import {
  covers,
  entityPath,
  TokenRefusedError,
  verifyEventHubToken,
} from '../../../../hub/auth/event-hub-auth';
import type { SharedAccessPolicy } from '../../../../hub/policies';
import { createSasToken } from '../../../../hub/auth/sas';
import { thrownBy } from '../../../../../devkit/thrown-by';

// Keys look like the real ones (base64 of 32 bytes); Event Hubs signs with the UTF-8 bytes of this text.
const serviceKey = Buffer.alloc(32, 1).toString('base64');
const serviceSecondary = Buffer.alloc(32, 2).toString('base64');
const ownerKey = Buffer.alloc(32, 3).toString('base64');
const registryKey = Buffer.alloc(32, 4).toString('base64');
const deviceKey = Buffer.alloc(32, 5).toString('base64');

const policies: readonly SharedAccessPolicy[] = [
  { keyName: 'service', primaryKey: serviceKey, secondaryKey: serviceSecondary, rights: ['ServiceConnect'] },
  {
    keyName: 'iothubowner',
    primaryKey: ownerKey,
    secondaryKey: Buffer.alloc(32, 6).toString('base64'),
    rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
  },
  {
    keyName: 'registryReadWrite',
    primaryKey: registryKey,
    secondaryKey: Buffer.alloc(32, 7).toString('base64'),
    rights: ['RegistryRead', 'RegistryWrite'],
  },
  {
    keyName: 'device',
    primaryKey: deviceKey,
    secondaryKey: Buffer.alloc(32, 8).toString('base64'),
    rights: ['DeviceConnect'],
  },
];
const policyByName = (name: string) => policies.find((policy) => policy.keyName === name);

const now = Date.parse('2026-01-01T00:00:00Z');
const expiry = now / 1000 + 3600;
const hub = 'myhub';
const partitionAudience = 'sb://localhost:5672/myhub/ConsumerGroups/$Default/Partitions/0';
const managementAudience = 'sb://localhost:5672/myhub/$management';

function token(resource: string, key = serviceKey, keyName = 'service', se = expiry): string {
  return createSasToken(resource, key, se, keyName, 'utf8');
}

function verify(text: string, audience = partitionAudience, hubName = hub) {
  return verifyEventHubToken(text, audience, hubName, policyByName, now);
}

function refusal(text: string, audience = partitionAudience, hubName = hub): TokenRefusedError {
  return thrownBy(TokenRefusedError, () => verify(text, audience, hubName));
}

describe('entityPath', () => {
  it.each([
    [
      'sb://localhost:5672/myhub/ConsumerGroups/$Default/Partitions/0',
      'myhub/consumergroups/$default/partitions/0',
    ],
    ['sb://ns.servicebus.windows.net/MyHub', 'myhub'],
    ['amqps://ns.servicebus.windows.net:5671/MyHub/', 'myhub'],
    ['amqp://127.0.0.1/myhub/$management', 'myhub/$management'],
    ['/myhub/ConsumerGroups/$Default/Partitions/0', 'myhub/consumergroups/$default/partitions/0'],
    ['myhub/ConsumerGroups/$Default/Partitions/0', 'myhub/consumergroups/$default/partitions/0'],
    ['//myhub//', 'myhub'],
    ['  sb://host/myhub  ', 'myhub'],
    ['sb://host:5672/', ''],
    ['sb://host:5672', ''],
    ['', ''],
  ])('reads %j as %j', (input, expected) => {
    expect(entityPath(input)).toBe(expected);
  });
});

describe('covers', () => {
  it.each([
    ['', 'myhub', true],
    ['', '', true],
    ['myhub', 'myhub', true],
    ['myhub', 'myhub/$management', true],
    ['myhub', 'myhub/consumergroups/$default/partitions/0', true],
    ['myhub/consumergroups/$default', 'myhub/consumergroups/$default/partitions/3', true],
    ['myhub', 'myhub2', false],
    ['myhub', 'myhub2/consumergroups/$default/partitions/0', false],
    ['myhub/consumergroups/$default/partitions/1', 'myhub/consumergroups/$default/partitions/10', false],
    ['myhub/$management', 'myhub', false],
    ['myhub', '', false],
  ])('%j covers %j: %s', (granted, wanted, expected) => {
    expect(covers(granted, wanted)).toBe(expected);
  });
});

describe('verifyEventHubToken', () => {
  it('accepts a token signed with the UTF-8 bytes of a ServiceConnect policy key', () => {
    expect(verify(token(partitionAudience))).toEqual({
      policy: policyByName('service'),
      scope: 'myhub/consumergroups/$default/partitions/0',
      expiresAtMs: expiry * 1000,
    });
    expect(
      verify(token(managementAudience, ownerKey, 'iothubowner'), managementAudience).policy.keyName,
    ).toBe('iothubowner');
  });

  it('accepts the secondary key too', () => {
    expect(verify(token(partitionAudience, serviceSecondary)).policy.keyName).toBe('service');
  });

  it('refuses a token signed with the base64-decoded key bytes (the IoT Hub rule, not the Event Hubs one)', () => {
    const decoded = createSasToken(partitionAudience, serviceKey, expiry, 'service', 'base64');
    const error = refusal(decoded);
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(/^InvalidSignature/);
  });

  it("refuses a token signed with another policy's key", () => {
    expect(refusal(token(partitionAudience, ownerKey, 'service'))).toMatchObject({
      statusCode: 401,
      message: expect.stringMatching(/^InvalidSignature/) as unknown,
    });
  });

  it('refuses an expired token, and one expiring right now', () => {
    for (const se of [now / 1000 - 1, now / 1000]) {
      const error = refusal(token(partitionAudience, serviceKey, 'service', se));
      expect(error.statusCode).toBe(401);
      expect(error.message).toMatch(/^ExpiredToken/);
    }
    expect(verify(token(partitionAudience, serviceKey, 'service', now / 1000 + 1)).expiresAtMs).toBe(
      now + 1000,
    );
  });

  it('refuses an unknown policy name, a missing one, and text that is not a token', () => {
    const unknown = refusal(token(partitionAudience, serviceKey, 'nosuchpolicy'));
    expect(unknown.statusCode).toBe(401);
    expect(unknown.message).toContain('"nosuchpolicy"');
    const withoutName = refusal(createSasToken(partitionAudience, serviceKey, expiry, undefined, 'utf8'));
    expect(withoutName.statusCode).toBe(401);
    expect(withoutName.message).toMatch(/no skn/);
    for (const text of ['', 'Bearer abc', 'SharedAccessSignature sr=x&se=1']) {
      expect(refusal(text).statusCode).toBe(401);
    }
  });

  it.each(['registryReadWrite', 'device'])(
    'refuses policy %s, which lacks ServiceConnect, with 403',
    (name) => {
      const key = policyByName(name)?.primaryKey ?? '';
      const error = refusal(token(partitionAudience, key, name));
      expect(error.statusCode).toBe(403);
      expect(error.message).toContain(`"${name}" lacks ServiceConnect`);
    },
  );

  it("refuses with 401 an audience the token's resource does not cover", () => {
    const cases: [string, string][] = [
      [partitionAudience, 'sb://localhost:5672/myhub/ConsumerGroups/$Default/Partitions/1'],
      [
        'sb://localhost:5672/myhub/ConsumerGroups/$Default/Partitions/1',
        partitionAudience.replace(/0$/, '10'),
      ],
      [partitionAudience, managementAudience],
      ['sb://localhost:5672/myhub', 'sb://localhost:5672/myhub2/ConsumerGroups/$Default/Partitions/0'],
      ['sb://localhost:5672/myhub/ConsumerGroups/$Default', 'sb://localhost:5672/myhub/ConsumerGroups/other'],
    ];
    for (const [resource, audience] of cases) {
      const error = refusal(token(resource), audience);
      expect({ resource, audience, statusCode: error.statusCode }).toEqual({
        resource,
        audience,
        statusCode: 401,
      });
      expect(error.message).toMatch(/^InvalidAudience/);
    }
  });

  it('accepts a token for the hub or the whole namespace for any of its links', () => {
    for (const resource of ['sb://localhost:5672/myhub', 'sb://localhost:5672/', 'sb://localhost:5672']) {
      expect(verify(token(resource)).scope).toBe('myhub/consumergroups/$default/partitions/0');
      expect(verify(token(resource), managementAudience).scope).toBe('myhub/$management');
    }
  });

  it('refuses with 404 an audience for another entity, when the token covers it', () => {
    for (const audience of [
      'sb://localhost:5672/otherhub/ConsumerGroups/$Default/Partitions/0',
      'sb://localhost:5672/myhub2/$management',
      'sb://localhost:5672/',
    ]) {
      const error = refusal(token('sb://localhost:5672/'), audience);
      expect({ audience, statusCode: error.statusCode }).toEqual({ audience, statusCode: 404 });
      expect(error.message).toContain(audience);
    }
  });

  it('ignores case, the host and port, a scheme and slashes when matching resource, audience and hub', () => {
    expect(verify(token('SB://LOCALHOST:5672/MyHub/'), managementAudience).scope).toBe('myhub/$management');
    expect(verify(token('amqps://other-host.example:5671/myhub'), partitionAudience).scope).toBe(
      'myhub/consumergroups/$default/partitions/0',
    );
    // .NET link addresses have a leading slash and no host.
    expect(verify(token(partitionAudience), '/myhub/consumergroups/$default/partitions/0').scope).toBe(
      'myhub/consumergroups/$default/partitions/0',
    );
    expect(verify(token(partitionAudience), partitionAudience, 'MYHUB').policy.keyName).toBe('service');
  });

  it('checks the signature over the resource exactly as sent', () => {
    const good = token('sb://localhost:5672/myhub');
    const tampered = good.replace('myhub', 'MyHub'); // same entity once normalised, but not what was signed
    expect(refusal(tampered).message).toMatch(/^InvalidSignature/);
  });
});
