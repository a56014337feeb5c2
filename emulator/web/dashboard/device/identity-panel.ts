import type { DeviceDetail } from '../../../dashboard/api-types';
import { h, on, replaceChildren, section } from '../dom';
import { formatAgo, formatCount } from '../format';
import { describeError, type PageContext } from '../page';
import { copyConnectionString } from '../pages/device-commands';

/**
 * Who the device is and what can be done to it: status, connection, the connection string (masked until the user
 * asks to see it), enable or disable, new keys, delete.
 */
export class IdentityPanel {
  readonly element: HTMLElement;
  private readonly facts = h('dl', { class: 'facts' });
  private readonly secret = h('code', { class: 'connection-string', 'data-secret': 'masked' });
  private readonly reveal = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Show');
  private readonly toggle = h('button', { type: 'button' }, 'Disable');
  private detail: DeviceDetail | undefined;
  private revealed = false;

  constructor(
    private readonly context: PageContext,
    private readonly deviceId: string,
    onDeleted: () => void,
  ) {
    const copy = on(h('button', { type: 'button' }, 'Copy'), 'click', () => {
      this.run('Copy', () => copyConnectionString(context, deviceId));
    });
    const regenerate = (key: 'primary' | 'secondary') =>
      on(h('button', { type: 'button' }, `New ${key} key`), 'click', () => {
        if (!window.confirm(`Regenerate the ${key} key of ${deviceId}? A connection using it closes.`))
          return;
        this.run(`New ${key} key`, async () => {
          await context.api.regenerateKey(deviceId, key);
          context.announce(`New ${key} key for ${deviceId}.`);
          this.revealed = false;
          await this.load();
        });
      });
    const remove = on(h('button', { type: 'button', class: 'danger' }, 'Delete device'), 'click', () => {
      if (!window.confirm(`Delete device ${deviceId}? Its twin and messages go with it.`)) return;
      this.run('Delete', async () => {
        await context.api.deleteDevice(deviceId);
        context.announce(`${deviceId} deleted.`);
        onDeleted();
      });
    });
    on(this.reveal, 'click', () => {
      this.run('Show', async () => {
        this.revealed = !this.revealed;
        await this.showSecret();
      });
    });
    on(this.toggle, 'click', () => {
      const enabled = this.detail?.status === 'enabled';
      this.run(enabled ? 'Disable' : 'Enable', async () => {
        await context.api.setStatus(deviceId, enabled ? 'disabled' : 'enabled');
        context.announce(`${deviceId} ${enabled ? 'disabled' : 'enabled'}.`);
        await this.load();
      });
    });
    this.element = section(
      'Device',
      this.facts,
      h(
        'div',
        { class: 'secret-row' },
        h('span', { class: 'label' }, 'Connection string (primary key)'),
        this.secret,
        h('div', { class: 'buttons' }, this.reveal, copy),
      ),
      h('div', { class: 'buttons' }, this.toggle, regenerate('primary'), regenerate('secondary'), remove),
    );
  }

  async load(): Promise<DeviceDetail> {
    const detail = await this.context.api.device(this.deviceId);
    this.detail = detail;
    const fact = (name: string, value: string | HTMLElement, key: string) => [
      h('dt', {}, name),
      h('dd', { 'data-fact': key }, value),
    ];
    replaceChildren(
      this.facts,
      ...fact('Status', h('span', { class: `badge ${detail.status}` }, detail.status), 'status'),
      ...fact(
        'Connection',
        h(
          'span',
          { class: `badge ${detail.connectionState.toLowerCase()}` },
          detail.connectionState + (detail.transport === null ? '' : ` (${detail.transport.toUpperCase()})`),
        ),
        'connection',
      ),
      ...fact('Last activity', formatAgo(detail.lastActivity), 'last-activity'),
      ...fact('Messages since start', formatCount(detail.telemetryCount), 'messages'),
      ...fact('C2D messages pending', formatCount(detail.pendingCloudToDevice), 'c2d-pending'),
      ...fact('Generation id', detail.generationId, 'generation'),
    );
    this.toggle.textContent = detail.status === 'enabled' ? 'Disable' : 'Enable';
    await this.showSecret();
    return detail;
  }

  private async showSecret(): Promise<void> {
    this.reveal.textContent = this.revealed ? 'Hide' : 'Show';
    this.reveal.setAttribute('aria-pressed', String(this.revealed));
    if (!this.revealed) {
      this.secret.textContent = this.detail?.maskedConnectionString ?? '';
      this.secret.dataset.secret = 'masked';
      return;
    }
    const { connectionString } = await this.context.api.connectionString(this.deviceId, 'primary');
    this.secret.textContent = connectionString;
    this.secret.dataset.secret = 'shown';
  }

  private run(label: string, action: () => Promise<void>): void {
    action().catch((error: unknown) => {
      this.context.notify(`${label} failed: ${describeError(error)}`, 'error');
    });
  }
}
