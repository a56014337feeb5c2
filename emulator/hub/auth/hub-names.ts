/**
 * Every name a client may know this hub by, as the `sr` of its tokens and the host of its MQTT user name carry
 * it. In Azure that is only `<hub>.azure-devices.net`; locally an SDK given `HostName=localhost` (the standard
 * ports profile) or `HostName=localhost:<port>` (SDKs that build `https://<HostName>`) signs for that name
 * instead, and the token is as much this hub's as one naming the Azure host. Names are case-insensitive.
 */
export class HubNames {
  private readonly names = new Set<string>();

  constructor(readonly hostName: string) {
    this.names.add(hostName.toLowerCase());
    for (const host of LOOPBACK_NAMES) this.names.add(host);
  }

  /**
   * Adds `<host>:<port>` for the ports the hub listens on, for each loopback name and `gatewayHost` (the host
   * written in its connection strings), and `gatewayHost` alone.
   */
  listeningOn(ports: readonly number[], gatewayHost?: string): void {
    const hosts = gatewayHost === undefined ? LOOPBACK_NAMES : [...LOOPBACK_NAMES, gatewayHost.toLowerCase()];
    for (const host of hosts) {
      this.names.add(host);
      for (const port of ports) if (port > 0) this.names.add(`${host}:${port}`);
    }
  }

  /** Whether `host` (as a token's `sr` or a user name writes it, with or without a port) names this hub. */
  includes(host: string): boolean {
    return this.names.has(host.toLowerCase());
  }

  /**
   * Whether `realm` names this hub in a SASL PLAIN user name (`<id>@sas.<realm>`): the SDKs write the first label
   * of their HostName there (`localhost` for `HostName=localhost`, the hub name for the Azure host).
   */
  includesRealm(realm: string): boolean {
    const wanted = realm.toLowerCase();
    for (const name of this.names) if (firstLabel(name) === wanted) return true;
    return false;
  }

  /** Every name, the Azure host name first: for messages and diagnostics. */
  all(): readonly string[] {
    return [...this.names];
  }
}

/** Loopback names a local client may use without any hosts entry; the certificate carries both. */
const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1'];

function firstLabel(name: string): string {
  // An IP address has no labels to strip: `127.0.0.1` is one name, not the realm `127`.
  if (/^[\d.]+(:\d+)?$/.test(name)) return name;
  return name.split('.')[0] ?? name;
}
