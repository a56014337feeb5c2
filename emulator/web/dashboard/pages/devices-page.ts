import {
  DEVICE_FILTERS,
  type DevicePage,
  type DeviceRow,
  type EventKind,
} from '../../../dashboard/api-types';
import { field, h, on, replaceChildren } from '../dom';
import { formatAgo, formatCount } from '../format';
import { Live } from '../live';
import { describeError, type Page, type PageContext } from '../page';
import { deviceHref, devicesHref } from '../router';
import { copyConnectionString } from './device-commands';

const PAGE_SIZE = 50;
const LIVE_KINDS: readonly EventKind[] = [
  'connected',
  'disconnected',
  'device-created',
  'device-deleted',
  'device-enabled',
  'device-disabled',
  'device-keys-changed',
];
/** Last activity moves with every message: the page is refreshed this often even without connection changes. */
const REFRESH_MS = 5000;

/**
 * The device list: search, filters and paging run on the server, so a page of 50 costs the same with 10 or
 * 10,000 devices. Rows follow connections and registry changes live; actions sit in each row's menu.
 */
export function devicesPage(context: PageContext, params: URLSearchParams): Page {
  const state = {
    search: params.get('search') ?? '',
    status: pick(DEVICE_FILTERS.status, params.get('status')),
    connection: pick(DEVICE_FILTERS.connection, params.get('connection')),
    offset: Math.max(0, Number(params.get('offset') ?? '0') || 0),
  };
  const search = h('input', {
    type: 'search',
    value: state.search,
    placeholder: 'part of a device id',
    'data-search': true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const status = select(DEVICE_FILTERS.status, state.status);
  const connection = select(DEVICE_FILTERS.connection, state.connection);
  const newId = h('input', { type: 'text', required: true, maxlength: 128, autocomplete: 'off' });
  const createForm = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Create a device' },
    field('New device id', newId),
    h('button', { type: 'submit' }, 'Create device'),
  );
  const tableBody = h('tbody');
  const summary = h('p', { class: 'pager-text', 'aria-live': 'polite' });
  const previous = h('button', { type: 'button' }, '← Previous');
  const next = h('button', { type: 'button' }, 'Next →');
  const element = h(
    'div',
    { class: 'page devices-page' },
    h('h1', {}, 'Devices'),
    h(
      'div',
      { class: 'toolbar' },
      field('Search', search, 'Press / to search'),
      field('Status', status),
      field('Connection', connection),
      createForm,
    ),
    h(
      'table',
      { class: 'data devices' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Device'),
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Connection'),
          h('th', { scope: 'col' }, 'Transport'),
          h('th', { scope: 'col' }, 'Last activity'),
          h('th', { scope: 'col', class: 'num' }, 'Messages'),
          h('th', { scope: 'col', class: 'num' }, 'C2D pending'),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
        ),
      ),
      tableBody,
    ),
    h('div', { class: 'pager' }, previous, summary, next),
  );

  let disposed = false;
  let loading: Promise<void> | undefined;
  let again = false;
  const load = (): Promise<void> => {
    // One request at a time; a change during it asks for one more, so the last state always wins.
    if (loading) {
      again = true;
      return loading;
    }
    loading = context.api
      .devices({ ...state, limit: PAGE_SIZE })
      .then((page) => {
        if (!disposed) render(page);
      })
      .catch((error: unknown) => {
        context.notify(`Could not list the devices: ${describeError(error)}`, 'error');
      })
      .finally(() => {
        loading = undefined;
        if (again && !disposed) {
          again = false;
          void load();
        }
      });
    return loading;
  };

  const render = (page: DevicePage) => {
    if (page.total > 0 && page.offset >= page.total) {
      state.offset = Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE;
      void load();
      return;
    }
    replaceChildren(
      tableBody,
      ...(page.items.length === 0
        ? [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No device matches.'))]
        : page.items.map((row) => deviceRow(context, row, load))),
    );
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.items.length;
    summary.textContent = `Devices ${formatCount(first)}–${formatCount(last)} of ${formatCount(page.total)}`;
    previous.disabled = page.offset === 0;
    next.disabled = last >= page.total;
  };

  const applyFilters = () => {
    const query = new URLSearchParams();
    if (state.search !== '') query.set('search', state.search);
    if (state.status !== 'all') query.set('status', state.status);
    if (state.connection !== 'all') query.set('connection', state.connection);
    if (state.offset > 0) query.set('offset', String(state.offset));
    // Kept in the address (without a history entry per keystroke), so a reload or a shared link shows the same.
    history.replaceState(null, '', devicesHref(query));
    void load();
  };

  let typing: number | undefined;
  on(search, 'input', () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      state.search = search.value.trim();
      state.offset = 0;
      applyFilters();
    }, 200);
  });
  on(search, 'keydown', (event) => {
    if (event.key === 'Escape' && search.value !== '') {
      search.value = '';
      search.dispatchEvent(new Event('input'));
    }
  });
  on(status, 'change', () => {
    state.status = pick(DEVICE_FILTERS.status, status.value);
    state.offset = 0;
    applyFilters();
  });
  on(connection, 'change', () => {
    state.connection = pick(DEVICE_FILTERS.connection, connection.value);
    state.offset = 0;
    applyFilters();
  });
  on(previous, 'click', () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    applyFilters();
  });
  on(next, 'click', () => {
    state.offset += PAGE_SIZE;
    applyFilters();
  });
  on(createForm, 'submit', (event) => {
    event.preventDefault();
    const deviceId = newId.value.trim();
    context.api
      .createDevice(deviceId)
      .then(() => {
        newId.value = '';
        context.announce(`Device ${deviceId} created.`);
        void load();
      })
      .catch((error: unknown) => {
        context.notify(`Could not create ${deviceId}: ${describeError(error)}`, 'error');
      });
  });

  // Live rows, without yanking focus: while the user is in the table, refreshes wait.
  let pending: number | undefined;
  const refreshSoon = () => {
    pending ??= window.setTimeout(() => {
      pending = undefined;
      if (tableBody.contains(document.activeElement)) return;
      void load();
    }, 500);
  };
  const live = new Live(
    { token: context.token, kinds: LIVE_KINDS },
    { event: refreshSoon, open: refreshSoon },
  );
  const timer = window.setInterval(refreshSoon, REFRESH_MS);
  void load();

  return {
    title: 'Devices',
    element,
    dispose: () => {
      disposed = true;
      live.close();
      window.clearInterval(timer);
      window.clearTimeout(pending);
      window.clearTimeout(typing);
    },
  };
}

function deviceRow(context: PageContext, row: DeviceRow, reload: () => Promise<void>): HTMLElement {
  const menu = h(
    'details',
    { class: 'row-menu' },
    h('summary', { 'aria-label': `Actions for ${row.deviceId}` }, 'Actions'),
  );
  const act = (label: string, run: () => Promise<unknown>) =>
    on(h('button', { type: 'button' }, label), 'click', () => {
      menu.open = false;
      run()
        .then(() => reload())
        .catch((error: unknown) => {
          context.notify(`${label} failed for ${row.deviceId}: ${describeError(error)}`, 'error');
        });
    });
  const enabled = row.status === 'enabled';
  menu.append(
    h(
      'div',
      { class: 'menu-items' },
      act(enabled ? 'Disable' : 'Enable', async () => {
        await context.api.setStatus(row.deviceId, enabled ? 'disabled' : 'enabled');
        context.announce(`${row.deviceId} ${enabled ? 'disabled' : 'enabled'}.`);
      }),
      act('Copy connection string', () => copyConnectionString(context, row.deviceId)),
      act('Regenerate primary key', async () => {
        if (!window.confirm(`Regenerate the primary key of ${row.deviceId}? Its connection closes.`)) return;
        await context.api.regenerateKey(row.deviceId, 'primary');
        context.announce(`New primary key for ${row.deviceId}.`);
      }),
      act('Delete', async () => {
        if (!window.confirm(`Delete device ${row.deviceId}? Its twin and messages go with it.`)) return;
        await context.api.deleteDevice(row.deviceId);
        context.announce(`${row.deviceId} deleted.`);
      }),
    ),
  );
  return h(
    'tr',
    { 'data-device': row.deviceId },
    h('th', { scope: 'row' }, h('a', { href: deviceHref(row.deviceId) }, row.deviceId)),
    h('td', {}, h('span', { class: `badge ${row.status}` }, row.status)),
    h(
      'td',
      { 'data-cell': 'connection' },
      h('span', { class: `badge ${row.connectionState.toLowerCase()}` }, row.connectionState),
    ),
    h('td', {}, row.transport?.toUpperCase() ?? '—'),
    h('td', {}, formatAgo(row.lastActivity)),
    h('td', { class: 'num' }, formatCount(row.telemetryCount)),
    h('td', { class: 'num' }, formatCount(row.pendingCloudToDevice)),
    h('td', {}, menu),
  );
}

function select<T extends string>(choices: readonly T[], selected: T): HTMLSelectElement {
  return h(
    'select',
    {},
    ...choices.map((choice) => h('option', { value: choice, selected: choice === selected }, choice)),
  );
}

function pick<T extends string>(choices: readonly [T, ...T[]], value: string | null): T {
  return choices.find((choice) => choice === value) ?? choices[0];
}
