/** Azure's ports for IoT Hub, which the SDKs dial when a connection string names no port. */
export const STANDARD_PORTS = { https: 443, mqtt: 8883, iothubAmqps: 5671 } as const;

/** Where a running emulator listens, as connection strings name it. */
export interface SdkEndpoints {
  /** The hub's Azure-style host name, `<hub>.azure-devices.net`. */
  readonly hubHostName: string;
  /** The local host name the certificate carries (`localhost`). */
  readonly gatewayHost: string;
  readonly httpsPort: number;
  readonly mqttPort: number;
  readonly iothubAmqpsPort: number;
}

/** A connection string and the clients that take it as it is. */
export interface SdkConnectionString {
  readonly connectionString: string;
  readonly worksWith: string;
}

/** Whether HTTPS (REST and WebSockets), MQTT and IoT Hub's AMQP all listen on Azure's ports. */
export function onStandardPorts(endpoints: SdkEndpoints): boolean {
  return (
    endpoints.httpsPort === STANDARD_PORTS.https &&
    endpoints.mqttPort === STANDARD_PORTS.mqtt &&
    endpoints.iothubAmqpsPort === STANDARD_PORTS.iothubAmqps
  );
}

/**
 * Service connection strings that unmodified SDKs accept: on the standard ports one string, `HostName=<gateway>`,
 * for every SDK and transport; on other ports `HostName=<gateway>:<https port>` for the SDKs that build
 * `https://<HostName>` (Python's azure-iot-hub). No `GatewayHostName` or `UseDevelopmentEmulator`: SDKs other than
 * this project's own code reject or ignore them.
 */
export function sdkServiceConnectionStrings(
  endpoints: SdkEndpoints,
  policy: { readonly keyName: string; readonly key: string },
): SdkConnectionString[] {
  const credentials = `SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.key}`;
  if (onStandardPorts(endpoints)) {
    return [
      {
        connectionString: `HostName=${endpoints.gatewayHost};${credentials}`,
        worksWith:
          'every service SDK (Node, Python, .NET, Java, C), REST and AMQP, with or without WebSockets',
      },
    ];
  }
  return [
    {
      connectionString: `HostName=${endpoints.gatewayHost}:${endpoints.httpsPort};${credentials}`,
      worksWith: 'service SDKs that call https://<HostName> (Python azure-iot-hub: registry, twins, methods)',
    },
  ];
}

/**
 * Device connection strings that unmodified SDKs accept: on the standard ports `HostName=<gateway>` for every SDK
 * and transport; otherwise the hub's host name with `GatewayHostName=<gateway>` (no port) when MQTT is on 8883,
 * which SDKs reading `GatewayHostName` as a bare host take (Python's azure-iot-device), and
 * `GatewayHostName=<gateway>:<port>` per transport for the Node SDK.
 */
export function sdkDeviceConnectionStrings(
  endpoints: SdkEndpoints,
  deviceId: string,
  key: string,
): SdkConnectionString[] {
  const credentials = `DeviceId=${deviceId};SharedAccessKey=${key}`;
  if (onStandardPorts(endpoints)) {
    return [
      {
        connectionString: `HostName=${endpoints.gatewayHost};${credentials}`,
        worksWith:
          'every device SDK (Node, Python, .NET, Java, C): MQTT, AMQP and HTTPS, with or without WebSockets',
      },
    ];
  }
  const strings: SdkConnectionString[] = [];
  const hub = `HostName=${endpoints.hubHostName};${credentials}`;
  if (endpoints.mqttPort === STANDARD_PORTS.mqtt) {
    strings.push({
      connectionString: `${hub};GatewayHostName=${endpoints.gatewayHost}`,
      worksWith: 'device SDKs over MQTT that read GatewayHostName as a host name (Python azure-iot-device)',
    });
  }
  strings.push(
    {
      connectionString: `${hub};GatewayHostName=${endpoints.gatewayHost}:${endpoints.mqttPort}`,
      worksWith: 'the Node device SDK over MQTT (Mqtt), and this project',
    },
    {
      connectionString: `${hub};GatewayHostName=${endpoints.gatewayHost}:${endpoints.iothubAmqpsPort}`,
      worksWith: 'the Node device SDK over AMQP (Amqp)',
    },
  );
  return strings;
}
