import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IotHub } from '../../../../hub/hub';
import { createSasToken } from '../../../../hub/auth/sas';
import type { Logger } from '../../../../log';
import { audienceOf, plainMechanism } from '../../../../transports/amqp/iothub-sasl';

const silent: Logger = { info: () => undefined, warn: () => undefined };

/**
 * SASL PLAIN as IoT Hub documents it for AMQP: the user name `<deviceId>@sas.<iothubName>` for a device,
 * `<policyName>@sas.root.<iothubName>` for a shared access policy, and a SAS token as the password. Checked against
 * a real hub core on a temporary directory.
 */
describe('IoT Hub SASL PLAIN', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-sasl-'));
  let hub: IotHub;
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  beforeAll(async () => {
    hub = await IotHub.open({
      hubName: 'sasl-hub',
      dataDir: dir,
      devices: ['dev1', 'Dev1', 'a@b'],
      partitionCount: 2,
      consumerGroups: [],
      retentionHours: 1,
      maxPartitionMiB: 1,
      fsync: false,
      log: silent,
    });
  });
  afterAll(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('audienceOf', () => {
    it('reads <id>@sas.<hub> as the device`s audience and <policy>@sas.root.<hub> as the hub`s', () => {
      expect(hub.hostName).toBe('sasl-hub.azure-devices.net');
      expect(audienceOf(hub, 'dev1@sas.sasl-hub')).toBe('sasl-hub.azure-devices.net/devices/dev1');
      expect(audienceOf(hub, 'iothubowner@sas.root.sasl-hub')).toBe('sasl-hub.azure-devices.net');
      expect(audienceOf(hub, 'service@sas.root.sasl-hub')).toBe('sasl-hub.azure-devices.net');
    });

    it('reads the hub name without case (a host name), and keeps the device id`s case', () => {
      expect(audienceOf(hub, 'Dev1@SAS.SASL-HUB')).toBe('sasl-hub.azure-devices.net/devices/Dev1');
      expect(audienceOf(hub, 'service@Sas.Root.Sasl-Hub')).toBe('sasl-hub.azure-devices.net');
    });

    it('takes the last @ as the separator, so device ids may hold @ (encoded in the audience)', () => {
      expect(audienceOf(hub, 'a@b@sas.sasl-hub')).toBe('sasl-hub.azure-devices.net/devices/a%40b');
    });

    it.each([
      ['another hub', 'dev1@sas.other-hub'],
      ['another hub, as root', 'service@sas.root.other-hub'],
      ['a hub whose name only starts like this one', 'dev1@sas.sasl-hub2'],
      ['the host name instead of the hub name', 'dev1@sas.sasl-hub.azure-devices.net'],
      ['no @', 'dev1'],
      ['nothing before the @', '@sas.sasl-hub'],
      ['nothing after the @', 'dev1@'],
      ['no sas realm', 'dev1@sasl-hub'],
      ['an empty user name', ''],
    ])('names no audience for %s (%j)', (_what, username) => {
      expect(audienceOf(hub, username)).toBeUndefined();
    });
  });

  describe('the PLAIN mechanism', () => {
    /** SASL PLAIN's initial response (RFC 4616): authzid NUL authcid NUL password. */
    const respond = (username: string, password: string) => {
      const mechanism = plainMechanism(hub)();
      mechanism.start(Buffer.from(`\u0000${username}\u0000${password}`, 'utf8'), undefined);
      return mechanism;
    };
    const deviceToken = (deviceId: string, expiry = inAnHour()) =>
      createSasToken(
        `${hub.hostName}/devices/${deviceId}`,
        hub.registry.find(deviceId)?.primaryKey ?? '',
        expiry,
      );
    const policyToken = (policy: string) =>
      createSasToken(hub.hostName, hub.policy(policy)?.primaryKey ?? '', inAnHour(), policy);

    it('admits a device with its own token, with a claim for the device', () => {
      const mechanism = respond('dev1@sas.sasl-hub', deviceToken('dev1'));
      expect(mechanism.outcome).toBe(true);
      expect(mechanism.claim).toMatchObject({ kind: 'device', session: { device: { deviceId: 'dev1' } } });
    });

    it('admits a device whose id holds an @, with the token the SDK signs for it', () => {
      const mechanism = respond('a@b@sas.sasl-hub', deviceToken('a@b'));
      expect(mechanism.outcome).toBe(true);
      expect(mechanism.claim).toMatchObject({ kind: 'device', session: { device: { deviceId: 'a@b' } } });
    });

    it('admits a device with a token of a policy with DeviceConnect', () => {
      const token = createSasToken(
        hub.hostName,
        hub.policy('device')?.primaryKey ?? '',
        inAnHour(),
        'device',
      );
      const mechanism = respond('dev1@sas.sasl-hub', token);
      expect(mechanism.outcome).toBe(true);
      expect(mechanism.claim).toMatchObject({ kind: 'device', session: { device: { deviceId: 'dev1' } } });
    });

    it('admits a policy with its token, with a claim for the hub', () => {
      const mechanism = respond('service@sas.root.sasl-hub', policyToken('service'));
      expect(mechanism.outcome).toBe(true);
      expect(mechanism.claim).toMatchObject({ kind: 'service', caller: { policy: { keyName: 'service' } } });
    });

    it.each([
      ['another device`s token', () => ['dev1@sas.sasl-hub', deviceToken('Dev1')]],
      ['an expired token', () => ['dev1@sas.sasl-hub', deviceToken('dev1', 1_000_000)]],
      [
        'a token signed with a wrong key',
        () => ['dev1@sas.sasl-hub', deviceToken('dev1').replace(/sig=[^&]+/, 'sig=AAAA')],
      ],
      ['a password that is no token', () => ['dev1@sas.sasl-hub', 'password']],
      ['a device token for the hub', () => ['service@sas.root.sasl-hub', deviceToken('dev1')]],
      ['an unknown device', () => ['ghost@sas.sasl-hub', deviceToken('dev1')]],
      ['a user name of another hub', () => ['dev1@sas.other-hub', deviceToken('dev1')]],
      ['a user name without realm', () => ['dev1', deviceToken('dev1')]],
      ['no password', () => ['dev1@sas.sasl-hub', '']],
    ])('refuses %s, with no claim', (_what, credentials) => {
      const [username = '', password = ''] = credentials();
      const mechanism = respond(username, password);
      expect(mechanism.outcome).toBe(false);
      expect(mechanism.claim).toBeUndefined();
    });

    it('refuses an empty or missing response without throwing', () => {
      const mechanism = plainMechanism(hub)();
      expect(() => {
        mechanism.start(undefined, undefined);
      }).not.toThrow();
      expect(mechanism.outcome).toBe(false);
    });
  });
});
