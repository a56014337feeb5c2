import { field, h, on, replaceChildren, section } from '../dom';
import { formatDuration, formatJson } from '../format';
import type { PageContext } from '../page';
import { readJson, refusalText } from './form-errors';

/**
 * Invokes a direct method on the device with IoT Hub's parameters (name, JSON payload, response and connect
 * timeouts) and shows the device's status, its payload and how long the call took, or the hub's error.
 */
export class MethodPanel {
  readonly element: HTMLElement;

  constructor(context: PageContext, deviceId: string) {
    const name = h('input', {
      type: 'text',
      value: 'SetTelemetryInterval',
      required: true,
      maxlength: 128,
      spellcheck: 'false',
    });
    const payload = h('textarea', { rows: 3, spellcheck: 'false' }, '5');
    const responseTimeout = h('input', { type: 'number', min: 5, max: 300, value: 30, required: true });
    const connectTimeout = h('input', { type: 'number', min: 0, max: 300, value: 0, required: true });
    const submit = h('button', { type: 'submit' }, 'Invoke');
    const result = h('div', { class: 'result', role: 'status', 'data-result': 'method' });
    const form = h(
      'form',
      { 'aria-label': 'Invoke a direct method' },
      field('Method name', name),
      field('Payload (JSON)', payload),
      h(
        'div',
        { class: 'row' },
        field('Response timeout (s)', responseTimeout),
        field('Connect timeout (s)', connectTimeout),
      ),
      h('div', { class: 'buttons' }, submit),
      result,
    );
    on(form, 'submit', (event) => {
      event.preventDefault();
      const parsed = readJson(payload.value.trim() === '' ? 'null' : payload.value, 'Payload');
      if ('error' in parsed) {
        replaceChildren(result, h('p', { class: 'error' }, parsed.error));
        payload.focus();
        return;
      }
      submit.disabled = true;
      replaceChildren(result, h('p', {}, `Calling ${name.value}…`));
      context.api
        .invoke(deviceId, {
          methodName: name.value,
          payload: parsed.value,
          responseTimeoutInSeconds: Number(responseTimeout.value),
          connectTimeoutInSeconds: Number(connectTimeout.value),
        })
        .then((reply) => {
          replaceChildren(
            result,
            h(
              'p',
              {},
              'Status ',
              h('strong', { 'data-status': reply.status }, String(reply.status)),
              ` in ${formatDuration(reply.durationMs)}`,
            ),
            h('pre', { class: 'json' }, formatJson(reply.payload)),
          );
          context.announce(`${name.value} answered ${String(reply.status)}.`);
        })
        .catch((error: unknown) => {
          replaceChildren(result, h('p', { class: 'error' }, refusalText(error)));
        })
        .finally(() => {
          submit.disabled = false;
        });
    });
    this.element = section('Direct method', form);
  }
}
