import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { ApiClient } from './api-client';
import { h, on, replaceChildren } from './dom';
import { onLiveState } from './live';
import type { Page, PageContext } from './page';
import { parseHash, type Route } from './router';
import { devicePage } from './pages/device-page';
import { devicesPage } from './pages/devices-page';
import { eventsPage } from './pages/events-page';
import { hubPage } from './pages/hub-page';

/**
 * The dashboard's shell: header with the page links and the stream's state, a banner for errors, the page. The
 * token comes from the URL the emulator printed and goes, in a header, with every API call.
 */
function start(): void {
  const root = document.getElementById('app');
  if (!root) return;
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const api = new ApiClient(token);

  const main = h('main', { id: 'main', tabindex: -1 });
  const banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
  const liveState = h('span', { class: 'live-state', 'data-state': 'connecting' }, 'Connecting…');
  const links = {
    hub: h('a', { href: '#/' }, 'Hub'),
    devices: h('a', { href: '#/devices' }, 'Devices'),
    events: h('a', { href: '#/events' }, 'Event stream'),
  };
  const skip = on(h('a', { class: 'skip', href: '#/' }, 'Skip to content'), 'click', (event) => {
    event.preventDefault();
    main.focus();
  });
  replaceChildren(
    root,
    skip,
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'IoT Hub emulator'),
      h('nav', { 'aria-label': 'Pages' }, links.hub, links.devices, links.events),
      liveState,
    ),
    banner,
    main,
    announcer,
  );
  onLiveState((state) => {
    liveState.dataset.state = state;
    liveState.textContent = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline';
  });

  const context: PageContext = {
    api,
    token,
    announce: (message) => {
      announcer.textContent = message;
    },
    notify: (message, kind = 'error') => {
      banner.hidden = false;
      banner.className = `banner ${kind}`;
      replaceChildren(
        banner,
        h('span', {}, message),
        on(h('button', { type: 'button', class: 'dismiss' }, 'Dismiss'), 'click', () => {
          banner.hidden = true;
        }),
      );
    },
  };

  let current: Page | undefined;
  const show = () => {
    const route = parseHash(location.hash);
    current?.dispose();
    banner.hidden = true;
    current = mount(context, route);
    replaceChildren(main, current.element);
    document.title = `${current.title} · IoT Hub emulator`;
    for (const [name, link] of Object.entries(links)) {
      const active = route.page === name || (route.page === 'device' && name === 'devices') ? 'page' : null;
      if (active) link.setAttribute('aria-current', active);
      else link.removeAttribute('aria-current');
    }
  };
  window.addEventListener('hashchange', show);
  // "/" jumps to the page's search field, as on most sites with one.
  document.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement | null;
    if (event.key !== '/' || target?.closest('input, textarea, select')) return;
    const search = main.querySelector<HTMLInputElement>('[data-search]');
    if (search) {
      event.preventDefault();
      search.focus();
    }
  });
  if (token === '') {
    context.notify('This address has no token: open the dashboard URL the emulator printed.', 'error');
  }
  show();
}

function mount(context: PageContext, route: Route): Page {
  switch (route.page) {
    case 'hub':
      return hubPage(context);
    case 'devices':
      return devicesPage(context, route.params);
    case 'device':
      return devicePage(context, route.deviceId);
    case 'events':
      return eventsPage(context);
    case 'not-found':
      return {
        title: 'Not found',
        element: h(
          'div',
          { class: 'page' },
          h('h1', {}, 'Not found'),
          h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Go to the hub'), '.'),
        ),
        dispose: () => undefined,
      };
  }
}

start();
