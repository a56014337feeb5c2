import { EVENT_KINDS, type EventKind, type HubEvent } from '../../../dashboard/api-types';
import { field, h, on, section } from '../dom';
import { formatCount } from '../format';
import { EventTable } from '../event-table';
import { Live } from '../live';
import { describeError, type Page, type PageContext } from '../page';

const MAX_ROWS = 500;
/** Events held while paused, at most; older ones are dropped (and counted). */
const MAX_HELD = 5000;

/**
 * Everything the hub does, newest first: filterable by kind and by text (device id or details), pausable (events
 * keep arriving and are shown on resume). Press p to pause or resume, / to search.
 */
export function eventsPage(context: PageContext): Page {
  const table = new EventTable({ showDevice: true, max: MAX_ROWS, caption: 'Hub events, newest first' });
  const search = h('input', {
    type: 'search',
    placeholder: 'device id or text',
    'data-search': true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const kinds = new Set<EventKind>(EVENT_KINDS.filter((kind) => kind !== 'telemetry'));
  const kindBoxes = EVENT_KINDS.map((kind) => {
    const box = h('input', { type: 'checkbox', value: kind, checked: kinds.has(kind) });
    on(box, 'change', () => {
      if (box.checked) kinds.add(kind);
      else kinds.delete(kind);
      applyFilter();
      // The server sends only the kinds shown: telemetry can outnumber everything else a thousand to one.
      reopen();
    });
    return h('label', { class: 'check' }, box, ` ${kind}`);
  });
  const pause = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const clear = h('button', { type: 'button' }, 'Clear');
  const status = h('p', { class: 'stream-status', role: 'status' }, 'Live.');
  const element = h(
    'div',
    { class: 'page events-page' },
    h('h1', {}, 'Event stream'),
    h(
      'div',
      { class: 'toolbar' },
      field('Filter', search, 'Press / to filter, p to pause'),
      h('div', { class: 'buttons' }, pause, clear),
      status,
    ),
    h('fieldset', { class: 'kinds' }, h('legend', {}, 'Kinds shown'), ...kindBoxes),
    section('Events', table.element),
  );

  let paused = false;
  let held: HubEvent[] = [];
  let droppedWhilePaused = 0;
  let droppedByServer = 0;

  const applyFilter = () => {
    const text = search.value.trim().toLowerCase();
    table.setFilter(
      (event) =>
        kinds.has(event.kind) &&
        (text === '' ||
          (event.deviceId ?? '').toLowerCase().includes(text) ||
          event.summary.toLowerCase().includes(text)),
    );
  };
  const showStatus = () => {
    const parts = [paused ? `Paused: ${formatCount(held.length)} new events held.` : 'Live.'];
    if (droppedWhilePaused > 0) parts.push(`${formatCount(droppedWhilePaused)} dropped while paused.`);
    if (droppedByServer > 0) parts.push(`${formatCount(droppedByServer)} not sent (too many per second).`);
    status.textContent = parts.join(' ');
  };
  const togglePause = () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) {
      table.add(held);
      held = [];
      droppedWhilePaused = 0;
    }
    showStatus();
  };
  on(pause, 'click', togglePause);
  on(clear, 'click', () => {
    table.clear();
    held = [];
    showStatus();
  });
  on(search, 'input', applyFilter);
  const onKey = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement | null;
    if (target?.closest('input, textarea, select')) return;
    if (event.key === 'p' && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      togglePause();
    }
  };
  document.addEventListener('keydown', onKey);
  applyFilter();

  let disposed = false;
  const load = () =>
    context.api
      .events(MAX_ROWS)
      .then((reply) => {
        if (!disposed) table.set(reply.items);
      })
      .catch((error: unknown) => {
        context.notify(`Could not load the events: ${describeError(error)}`, 'error');
      });
  const openLive = () =>
    new Live(
      { token: context.token, kinds: [...kinds] },
      {
        event: (event) => {
          if (!paused) {
            table.add([event]);
            return;
          }
          held.push(event);
          if (held.length > MAX_HELD) {
            held.shift();
            droppedWhilePaused++;
          }
          showStatus();
        },
        dropped: (count) => {
          droppedByServer += count;
          showStatus();
        },
        open: () => void load(),
      },
    );
  // The stream starts first, so that nothing falls between the list and the first live event.
  let live = openLive();
  let reopening: number | undefined;
  function reopen(): void {
    window.clearTimeout(reopening);
    reopening = window.setTimeout(() => {
      live.close();
      live = openLive();
    }, 300);
  }
  void load();

  return {
    title: 'Event stream',
    element,
    dispose: () => {
      disposed = true;
      window.clearTimeout(reopening);
      live.close();
      document.removeEventListener('keydown', onKey);
    },
  };
}
