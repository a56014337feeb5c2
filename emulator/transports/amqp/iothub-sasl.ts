import type { Connection } from 'rhea';
import type { IotHub } from '../../hub/hub';
import { verifyIotHubClaim, type IotHubClaim } from './iothub-claims';

/** rhea's view of a server-side SASL mechanism. */
interface ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  start(response: Buffer | undefined, hostname: string | undefined): void;
}

/** Our PLAIN mechanism keeps the claim its password proved, for the connection to take once it opens. */
interface PlainMechanism extends ServerMechanism {
  claim: IotHubClaim | undefined;
}

/**
 * SASL PLAIN as IoT Hub takes it: the user name says who (`<deviceId>@sas.<hub>` for a device,
 * `<policy>@sas.root.<hub>` for a shared access policy) and the password is a SAS token for the matching
 * audience. A mechanism that does not verify fails the SASL exchange, which closes the connection.
 */
export function plainMechanism(hub: IotHub): () => PlainMechanism {
  return () => ({
    outcome: undefined,
    username: undefined,
    claim: undefined,
    start(this: PlainMechanism, response: Buffer | undefined) {
      const [, username = '', password = ''] = (response ?? Buffer.alloc(0)).toString('utf8').split('\u0000');
      const audience = audienceOf(hub, username);
      try {
        if (audience === undefined) throw new Error('unknown user name');
        this.claim = verifyIotHubClaim(hub, audience, password);
        this.username = username;
        this.outcome = true;
      } catch {
        // A refused token fails the exchange; the client learns no more than IoT Hub tells it.
        this.outcome = false;
      }
    },
  });
}

/** `<id>@sas.<hub>` -> `<host>/devices/<id>`; `<policy>@sas.root.<hub>` -> `<host>`; else undefined. */
export function audienceOf(hub: IotHub, username: string): string | undefined {
  const hubName = hub.hubName.toLowerCase();
  const at = username.lastIndexOf('@');
  if (at <= 0) return undefined;
  const who = username.slice(0, at);
  const realm = username.slice(at + 1).toLowerCase();
  if (realm === `sas.root.${hubName}`) return hub.hostName;
  if (realm === `sas.${hubName}`) return `${hub.hostName}/devices/${encodeURIComponent(who)}`;
  // An SDK given `HostName=localhost` writes `localhost` where the hub name goes: the same hub, by another name.
  const [, root, other] = /^sas\.(?:root\.(.+)|(.+))$/.exec(realm) ?? [];
  if (root !== undefined && hub.names.includesRealm(root)) return hub.hostName;
  if (other !== undefined && hub.names.includesRealm(other))
    return `${hub.hostName}/devices/${encodeURIComponent(who)}`;
  return undefined;
}

/** The claim a connection proved with SASL PLAIN, if it used our mechanism and it succeeded. */
export function saslClaim(connection: Connection): IotHubClaim | undefined {
  const transport = (connection as unknown as { sasl_transport?: SaslTransport }).sasl_transport;
  const mechanism = transport?.mechanism ?? transport?.selected?.mechanism;
  return mechanism?.outcome === true ? mechanism.claim : undefined;
}

interface SaslTransport {
  mechanism?: Partial<PlainMechanism>;
  selected?: { mechanism?: Partial<PlainMechanism> };
}
