import { hubErrors } from '../../hub/errors';

/**
 * The service API versions IoT Hub publishes (data plane; the SDKs in use send 2021-04-12). Any other value, a
 * future date included, is one the hub does not know: 400 InvalidProtocolVersion. Answers use 2021-04-12 shapes.
 */
const API_VERSIONS: ReadonlySet<string> = new Set([
  '2016-02-03',
  '2016-11-14',
  '2017-06-30',
  '2017-11-08-preview',
  '2018-01-26',
  '2018-04-01',
  '2018-06-30',
  '2018-08-30-preview',
  '2019-03-30',
  '2019-07-01-preview',
  '2019-10-01',
  '2020-03-13',
  '2020-05-31-preview',
  '2020-06-30-preview',
  '2020-09-30',
  '2021-04-12',
]);
export const CURRENT_API_VERSION = '2021-04-12';

export function checkApiVersion(version: string | null): void {
  if (!version) {
    throw hubErrors.invalidProtocolVersion(
      `The api-version query parameter is required (for example ${CURRENT_API_VERSION}).`,
    );
  }
  if (!API_VERSIONS.has(version)) {
    throw hubErrors.invalidProtocolVersion(
      `api-version ${JSON.stringify(version.slice(0, 40))} is not a version IoT Hub knows; use ${CURRENT_API_VERSION}.`,
    );
  }
}
