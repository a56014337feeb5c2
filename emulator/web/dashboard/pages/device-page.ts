import { ApiError } from '../api-client';
import { CloudToDevicePanel } from '../device/c2d-panel';
import { IdentityPanel } from '../device/identity-panel';
import { MethodPanel } from '../device/method-panel';
import { TelemetryPanel } from '../device/telemetry-panel';
import { TwinPanel } from '../device/twin-panel';
import { h, replaceChildren, section } from '../dom';
import { EventTable } from '../event-table';
import { Live } from '../live';
import { describeError, type Page, type PageContext } from '../page';

const TWIN_POLL_MS = 2000;
const IDENTITY_POLL_MS = 5000;

/**
 * One device: its identity and actions, live telemetry (chart and table), twin, a direct method form, a
 * cloud-to-device form, and its recent events, all kept current by one stream filtered to the device.
 */
export function devicePage(context: PageContext, deviceId: string): Page {
  const identity = new IdentityPanel(context, deviceId, () => {
    location.hash = '#/devices';
  });
  const telemetry = new TelemetryPanel(deviceId);
  const twin = new TwinPanel(context, deviceId);
  const method = new MethodPanel(context, deviceId);
  const c2d = new CloudToDevicePanel(context, deviceId);
  const events = new EventTable({ showDevice: false, max: 50, caption: `Recent events of ${deviceId}` });
  const content = h(
    'div',
    { class: 'device-grid' },
    h('div', { class: 'column wide' }, telemetry.element, twin.element),
    h(
      'div',
      { class: 'column' },
      identity.element,
      method.element,
      c2d.element,
      section('Recent events', events.element),
    ),
  );
  const element = h(
    'div',
    { class: 'page device-page' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/devices' }, '← All devices')),
    h('h1', {}, deviceId),
    content,
  );

  let disposed = false;
  const timers: number[] = [];
  let live: Live | undefined;
  const fail = (what: string) => (error: unknown) => {
    if (!disposed) context.notify(`Could not load the ${what}: ${describeError(error)}`, 'error');
  };
  const loadAll = async () => {
    await identity.load();
    const [items, recent] = await Promise.all([
      context.api.telemetry(deviceId, 200),
      context.api.deviceEvents(deviceId),
      twin.load(),
    ]);
    if (disposed) return;
    telemetry.set(items.items);
    events.set(recent.items);
  };

  let identityPending: number | undefined;
  const refreshIdentity = () => {
    identityPending ??= window.setTimeout(() => {
      identityPending = undefined;
      identity.load().catch(fail('device'));
    }, 300);
  };

  loadAll()
    .then(() => {
      if (disposed) return;
      live = new Live(
        { token: context.token, deviceId },
        {
          event: (event) => {
            if (event.kind === 'telemetry') {
              telemetry.add(event.telemetry);
              return;
            }
            events.add([event]);
            if (event.kind === 'c2d-settled') c2d.settled(event);
            if (event.kind === 'device-deleted') {
              context.notify(`${deviceId} was deleted.`, 'info');
              return;
            }
            if (event.kind !== 'method-call') refreshIdentity();
          },
          open: () => {
            loadAll().catch(fail('device'));
          },
        },
      );
      timers.push(
        window.setInterval(() => {
          twin.load().catch(() => undefined);
        }, TWIN_POLL_MS),
        window.setInterval(refreshIdentity, IDENTITY_POLL_MS),
      );
    })
    .catch((error: unknown) => {
      if (disposed) return;
      if (error instanceof ApiError && error.status === 404) {
        replaceChildren(
          content,
          h(
            'p',
            { class: 'notice' },
            `No device ${deviceId} in this hub. `,
            h('a', { href: '#/devices' }, 'See all devices.'),
          ),
        );
        return;
      }
      fail('device')(error);
    });

  return {
    title: deviceId,
    element,
    dispose: () => {
      disposed = true;
      live?.close();
      for (const timer of timers) window.clearInterval(timer);
      window.clearTimeout(identityPending);
      telemetry.dispose();
    },
  };
}
