// DOM helpers the console's views share. Text always goes in as textContent, never as HTML, so no key,
// bucket name or server message can inject markup.

/** An element with attributes (on* names become listeners) and children (strings become text). */
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'className') el.className = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const kid of kids.flat()) if (kid !== undefined && kid !== null) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/** A table with a header row; `rows` are arrays of cells (a cell is a Node, a string, or {num: value}). */
export function table(head, rows, empty = 'Nothing here yet') {
  // A header given as {num: 'Size'} is right-aligned, like its column's cells.
  const cell = (c, tag) => (c && typeof c === 'object' && 'num' in c ? h(tag, { className: 'num' }, c.num) : c && typeof c === 'object' && 'actions' in c ? h(tag, { className: 'actions' }, c.actions) : h(tag, {}, c));
  return h('table', {},
    h('thead', {}, h('tr', {}, head.map((c) => cell(c, 'th')))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => cell(c, 'td')))) : h('tr', {}, h('td', { colspan: String(head.length), className: 'hint' }, empty))));
}

/** Runs `action`, showing its failure in `target` (an element with the error class) instead of throwing. */
export async function guarded(target, action) {
  target.textContent = '';
  try {
    return await action();
  } catch (err) {
    target.textContent = err.message;
    return undefined;
  }
}

export function progressBar(value, max) {
  return h('progress', { value: String(value), max: String(Math.max(max, 1)) });
}

/**
 * After a failed admin call shown in `target`: the admin API answers every key but the root one
 * AccessDenied, which says nothing about why. `what` completes "sign in with the root key to ...".
 */
export function explainRootOnly(target, what) {
  if (target.textContent.includes('AccessDenied')) target.textContent = `Root key only: this key is not the root key, and only the root key may use the admin API. Sign in with the root key to ${what}.`;
}
