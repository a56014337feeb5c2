import type { HubEvent } from '../../../dashboard/api-types';
import type { CloudToDeviceMessage } from '../api-client';
import { field, h, on, replaceChildren, section } from '../dom';
import { formatTime } from '../format';
import type { PageContext } from '../page';
import { readJson, refusalText } from './form-errors';

const ACKS = ['none', 'positive', 'negative', 'full'] as const;

/**
 * Sends a cloud-to-device message and follows it: queued, then settled by the device (completed, rejected) or by
 * the hub (expired, purged), which is what IoT Hub's feedback reports. The `ack` choice decides whether the hub
 * also writes feedback for the service's feedback receiver.
 */
export class CloudToDevicePanel {
  readonly element: HTMLElement;
  private readonly sent = h('ul', { class: 'sent-messages', 'aria-live': 'polite' });
  private readonly outcomes = new Map<string, HTMLElement>();
  /** Settlements that came before the answer to the send (a fast device completes at once): id → outcome. */
  private readonly early = new Map<string, string>();

  constructor(context: PageContext, deviceId: string) {
    const body = h('textarea', { rows: 3, spellcheck: 'false' }, '{"command": "blink"}');
    const asJson = h('input', { type: 'checkbox', checked: true });
    const ack = h(
      'select',
      {},
      ...ACKS.map((mode) => h('option', { value: mode, selected: mode === 'none' }, mode)),
    );
    const submit = h('button', { type: 'submit' }, 'Send message');
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const form = h(
      'form',
      { 'aria-label': 'Send a cloud-to-device message' },
      field('Message body', body),
      h(
        'div',
        { class: 'row' },
        h('label', { class: 'check' }, asJson, ' Body is JSON (sent as application/json)'),
        field('Feedback (iothub-ack)', ack),
      ),
      h('div', { class: 'buttons' }, submit),
      error,
      this.sent,
    );
    on(form, 'submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      let message: CloudToDeviceMessage;
      const mode = ACKS.find((candidate) => candidate === ack.value) ?? 'none';
      if (asJson.checked) {
        const parsed = readJson(body.value, 'Message body');
        if ('error' in parsed) {
          error.textContent = `${parsed.error} (or untick "Body is JSON").`;
          error.hidden = false;
          body.focus();
          return;
        }
        message = { payload: parsed.value, ack: mode };
      } else {
        message = { body: body.value, ack: mode };
      }
      submit.disabled = true;
      context.api
        .sendMessage(deviceId, message)
        .then((reply) => {
          const outcome = h('span', { class: 'outcome', 'data-outcome': 'queued' }, 'queued');
          this.outcomes.set(reply.messageId, outcome);
          const settled = this.early.get(reply.messageId);
          if (settled !== undefined) this.show(outcome, settled);
          this.sent.prepend(
            h(
              'li',
              { 'data-message-id': reply.messageId },
              `${formatTime(Date.now())} · ${reply.messageId} · `,
              outcome,
            ),
          );
          context.announce(`Message ${reply.messageId} queued.`);
        })
        .catch((failure: unknown) => {
          error.textContent = refusalText(failure);
          error.hidden = false;
        })
        .finally(() => {
          submit.disabled = false;
        });
    });
    this.element = section('Cloud-to-device message', form);
  }

  /** A settlement from the stream: the message's fate. */
  settled(event: HubEvent): void {
    if (event.kind !== 'c2d-settled' || event.messageId === null) return;
    const outcome = this.outcomes.get(event.messageId);
    if (outcome) {
      this.show(outcome, event.outcome);
      return;
    }
    this.early.set(event.messageId, event.outcome);
    if (this.early.size > 100) this.early.delete(this.early.keys().next().value ?? '');
  }

  private show(element: HTMLElement, outcome: string): void {
    replaceChildren(element, outcome);
    element.dataset.outcome = outcome;
  }
}
