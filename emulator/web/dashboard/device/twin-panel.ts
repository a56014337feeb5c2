import type { JsonObject, JsonValue, TwinReply } from '../../../dashboard/api-types';
import { field, h, on, replaceChildren, section } from '../dom';
import { formatJson } from '../format';
import type { PageContext } from '../page';
import { readJson, refusalText } from './form-errors';

/**
 * The device twin: tags, desired and reported properties (with their versions, without the metadata), and an
 * editor for a desired-properties patch (null deletes a property, as in IoT Hub). The hub announces no twin
 * changes, so the panel reads the twin again every two seconds while it is open: reported properties show up
 * shortly after the device sends them.
 */
export class TwinPanel {
  readonly element: HTMLElement;
  private readonly tags = h('pre', { class: 'json', 'data-twin': 'tags' });
  private readonly desired = h('pre', { class: 'json', 'data-twin': 'desired' });
  private readonly reported = h('pre', { class: 'json', 'data-twin': 'reported' });
  private readonly version = h('p', { class: 'hint' });
  private etag = '*';

  constructor(
    private readonly context: PageContext,
    private readonly deviceId: string,
  ) {
    const patch = h('textarea', { rows: 3, spellcheck: 'false', placeholder: '{"telemetryInterval": 5}' });
    const submit = h('button', { type: 'submit' }, 'Update desired properties');
    const result = h('p', { class: 'result', role: 'status', 'data-result': 'twin' });
    const form = h(
      'form',
      { 'aria-label': 'Change desired properties' },
      field('Desired properties patch (JSON object; null deletes)', patch),
      h('div', { class: 'buttons' }, submit),
      result,
    );
    on(form, 'submit', (event) => {
      event.preventDefault();
      const parsed = readJson(patch.value, 'The patch');
      if ('error' in parsed || !isObject(parsed.value)) {
        result.textContent = 'error' in parsed ? parsed.error : 'The patch must be a JSON object.';
        result.className = 'result error';
        patch.focus();
        return;
      }
      submit.disabled = true;
      context.api
        .updateDesired(deviceId, parsed.value, this.etag)
        .then((twin) => {
          this.show(twin);
          const version = twin.properties.desired.$version;
          result.textContent = `Desired properties now at version ${typeof version === 'number' ? String(version) : '?'}.`;
          result.className = 'result';
        })
        .catch((error: unknown) => {
          result.textContent = refusalText(error);
          result.className = 'result error';
          void this.load().catch(() => undefined);
        })
        .finally(() => {
          submit.disabled = false;
        });
    });
    this.element = section(
      'Device twin',
      this.version,
      h(
        'div',
        { class: 'grid three' },
        h('div', {}, h('h3', {}, 'Tags'), this.tags),
        h('div', {}, h('h3', {}, 'Desired'), this.desired),
        h('div', {}, h('h3', {}, 'Reported'), this.reported),
      ),
      form,
    );
  }

  async load(): Promise<void> {
    this.show(await this.context.api.twin(this.deviceId));
  }

  private show(twin: TwinReply): void {
    // The etag of the twin shown: an update made from an older view is refused (412) instead of overwriting.
    this.etag = twin.etag;
    replaceChildren(this.version, `Twin version ${String(twin.version)}, etag ${twin.etag}`);
    this.tags.textContent = formatJson(twin.tags);
    this.desired.textContent = formatJson(withoutMetadata(twin.properties.desired));
    this.reported.textContent = formatJson(withoutMetadata(twin.properties.reported));
  }
}

function isObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `$metadata` doubles the text for timestamps nobody reads here; `$version` stays. */
function withoutMetadata(section: JsonObject): JsonObject {
  const copy: JsonObject = {};
  for (const [name, value] of Object.entries(section)) if (name !== '$metadata') copy[name] = value;
  return copy;
}
