import type { HubSummary, RatePoint, StatsMessage } from '../../../dashboard/api-types';
import { h, replaceChildren, section } from '../dom';
import { formatCount, formatDuration, formatRate, formatTime } from '../format';
import { Live } from '../live';
import { describeError, type Page, type PageContext } from '../page';
import { TimeChart } from '../time-chart';

const WINDOW_MS = 10 * 60 * 1000;

/**
 * The hub at a glance: connected devices, message and method rates with latency, two charts of the last ten
 * minutes, the Event Hub-compatible endpoint's partitions and consumer groups. Updated every second.
 */
export function hubPage(context: PageContext): Page {
  const figures = h('div', { class: 'figures', 'aria-live': 'off' });
  const trafficChart = h('div', { 'data-chart': 'traffic' });
  const devicesChart = h('div', { 'data-chart': 'devices' });
  const partitions = h('div');
  const groups = h('div');
  const heading = h('h1', {}, 'Hub');
  const element = h(
    'div',
    { class: 'page hub-page' },
    heading,
    figures,
    h(
      'div',
      { class: 'grid two' },
      section('Messages and calls per second, last 10 minutes', trafficChart),
      section('Connected devices and method latency', devicesChart),
    ),
    h(
      'div',
      { class: 'grid two' },
      section('Partitions (Event Hub-compatible endpoint)', partitions),
      section('Consumer groups', groups),
    ),
  );
  let traffic: TimeChart | undefined;
  let devices: TimeChart | undefined;
  let live: Live | undefined;
  let disposed = false;

  const showFigures = (summary: Pick<StatsMessage, 'rates' | 'connectedDevices' | 'registeredDevices'>) => {
    const { rates } = summary;
    replaceChildren(
      figures,
      figure(
        'Connected devices',
        `${formatCount(summary.connectedDevices)} / ${formatCount(summary.registeredDevices)}`,
        'connected',
      ),
      figure('Telemetry in', `${formatRate(rates.telemetryIn)} msg/s`, 'telemetry-in'),
      figure('Cloud-to-device out', `${formatRate(rates.c2dOut)} msg/s`, 'c2d-out'),
      figure('Method calls', `${formatRate(rates.methodCalls)} /s`, 'method-calls'),
      figure('Method latency', formatDuration(rates.methodLatencyMs), 'method-latency'),
    );
  };

  const appendPoint = (point: RatePoint) => {
    traffic?.append(point.t, [point.telemetryIn, point.c2dOut, point.methodCalls]);
    devices?.append(point.t, [point.connected, point.methodLatencyMs]);
  };

  const load = async () => {
    const summary = await context.api.hub();
    if (disposed) return;
    heading.textContent = `Hub ${summary.hubName}`;
    showFigures(summary);
    traffic ??= new TimeChart(trafficChart, {
      label: 'Telemetry in, cloud-to-device out and method calls per second over the last 10 minutes',
      windowMs: WINDOW_MS,
      series: [{ label: 'telemetry in/s' }, { label: 'C2D out/s' }, { label: 'method calls/s' }],
      scales: { y: 'per second' },
    });
    devices ??= new TimeChart(devicesChart, {
      label: 'Connected devices and mean method latency over the last 10 minutes',
      windowMs: WINDOW_MS,
      series: [
        { label: 'connected devices', scale: 'devices' },
        { label: 'method latency (ms)', scale: 'ms' },
      ],
      scales: { devices: 'devices', ms: 'ms' },
    });
    traffic.setPoints(
      summary.series.map((point) => ({
        time: point.t,
        values: [point.telemetryIn, point.c2dOut, point.methodCalls],
      })),
    );
    devices.setPoints(
      summary.series.map((point) => ({ time: point.t, values: [point.connected, point.methodLatencyMs] })),
    );
    replaceChildren(partitions, partitionTable(summary));
    replaceChildren(groups, groupList(summary));
  };

  const reload = () => {
    load().catch((error: unknown) => {
      context.notify(`Could not load the hub: ${describeError(error)}`, 'error');
    });
  };
  let refreshTables = 0;
  load()
    .then(() => {
      if (disposed) return;
      live = new Live(
        { token: context.token, kinds: [], stats: true },
        {
          stats: (stats) => {
            showFigures(stats);
            appendPoint(stats.point);
            // Partition positions move with every message: refreshed every few seconds, not every second.
            if (++refreshTables % 5 === 0) {
              context.api
                .hub()
                .then((summary) => {
                  if (!disposed) {
                    replaceChildren(partitions, partitionTable(summary));
                    replaceChildren(groups, groupList(summary));
                  }
                })
                .catch(() => undefined);
            }
          },
          open: reload,
        },
      );
    })
    .catch((error: unknown) => {
      context.notify(`Could not load the hub: ${describeError(error)}`, 'error');
    });

  return {
    title: 'Hub',
    element,
    dispose: () => {
      disposed = true;
      live?.close();
      traffic?.destroy();
      devices?.destroy();
    },
  };
}

function figure(label: string, value: string, name: string): HTMLElement {
  return h(
    'div',
    { class: 'figure', 'data-figure': name },
    h('div', { class: 'figure-label' }, label),
    h('div', { class: 'figure-value' }, value),
  );
}

function partitionTable(summary: HubSummary): HTMLElement {
  return h(
    'table',
    { class: 'data' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Partition'),
        h('th', { scope: 'col', class: 'num' }, 'First sequence number'),
        h('th', { scope: 'col', class: 'num' }, 'Last sequence number'),
        h('th', { scope: 'col' }, 'Last enqueued'),
      ),
    ),
    h(
      'tbody',
      {},
      ...summary.partitions.map((partition) =>
        h(
          'tr',
          {},
          h('td', {}, partition.partitionId),
          h(
            'td',
            { class: 'num' },
            partition.lastEnqueuedTime === null ? '—' : partition.beginSequenceNumber,
          ),
          h('td', { class: 'num' }, partition.lastEnqueuedTime === null ? '—' : partition.lastSequenceNumber),
          h('td', {}, partition.lastEnqueuedTime === null ? 'empty' : formatTime(partition.lastEnqueuedTime)),
        ),
      ),
    ),
  );
}

function groupList(summary: HubSummary): HTMLElement {
  const readers = summary.readers;
  return h(
    'div',
    {},
    h(
      'table',
      { class: 'data' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Consumer group'), h('th', { scope: 'col' }, 'Readers')),
      ),
      h(
        'tbody',
        {},
        ...summary.consumerGroups.map((group) => {
          const own = readers?.filter((reader) => reader.consumerGroup === group) ?? [];
          const text =
            readers === null
              ? '—'
              : own.length === 0
                ? 'none'
                : own
                    .map(
                      (reader) =>
                        `partition ${reader.partitionId}${reader.epoch === null ? '' : ` (epoch ${String(reader.epoch)})`}`,
                    )
                    .join(', ');
          return h('tr', {}, h('td', {}, group), h('td', {}, text));
        }),
      ),
    ),
    readers === null
      ? h('p', { class: 'hint' }, 'This emulator does not report the endpoint’s readers yet.')
      : null,
  );
}
