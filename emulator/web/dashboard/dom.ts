/** What `h` takes as children: nodes and text (never HTML: text is always a text node), or nothing. */
export type Child = Node | string | number | null | undefined | false;

export type Attributes = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * Creates an element with attributes and children. Text goes in as text nodes, so nothing the hub or a device
 * sends can become markup; `true` sets an empty attribute and `false`, null or undefined leave it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** Adds a listener and returns the element, so that creation and wiring read as one expression. */
export function on<E extends HTMLElement, K extends keyof HTMLElementEventMap>(
  element: E,
  type: K,
  listener: (event: HTMLElementEventMap[K]) => void,
): E {
  element.addEventListener(type, listener);
  return element;
}

/** A labelled form field: the label names the control, for screen readers and for keyboard users clicking it. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `field-${String(nextId++)}`;
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint === undefined ? null : h('small', { class: 'hint' }, hint),
  );
}

let nextId = 1;

/** A section with a heading, labelled by it. */
export function section(title: string, ...children: Child[]): HTMLElement {
  const id = `section-${String(nextId++)}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}
