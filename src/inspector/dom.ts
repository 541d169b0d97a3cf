/**
 * A tiny element builder. Every string becomes a text node or an attribute value set through
 * the DOM, never markup: server data (messages, ids, errors) cannot inject HTML. No inspector
 * module parses strings as HTML (a test checks the sources).
 */

type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined;
type Handler = (event: Event) => void;
export type Attrs = Record<string, AttrValue | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === "function") {
      el.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "number" ? String(child) : child);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets text only when it changed (keeps selections and avoids needless layout). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A random id that works outside secure contexts too (`crypto.randomUUID` does not). */
export function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Makes a scrolling pane reachable and scrollable by keyboard: in the tab order, named for
 * screen readers (a list keeps its list role; anything else becomes a named region).
 */
export function scrollPane<E extends HTMLElement>(el: E, label: string): E {
  el.tabIndex = 0;
  el.setAttribute("aria-label", label);
  if (!/^(OL|UL)$/.test(el.tagName)) el.setAttribute("role", "region");
  el.classList.add("pane");
  return el;
}
