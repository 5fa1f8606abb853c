// The object views: buckets (create, delete), a bucket's folders and objects under a prefix (upload with
// progress, download, share link, delete, load more), and the versions of one key.
import { formatBytes, formatDate, guarded, h, progressBar, table } from './ui.js';

const enc = (path) => path.split('/').map(encodeURIComponent).join('/');
export const bucketHash = (bucket, prefix = '') => `#/b/${encodeURIComponent(bucket)}/${enc(prefix)}`;
const versionsHash = (bucket, key) => `#/v/${encodeURIComponent(bucket)}/${enc(key)}`;

export async function showBuckets(view, s3) {
  const error = h('p', { className: 'error', role: 'alert' });
  const name = h('input', { name: 'bucket', placeholder: 'new-bucket-name', required: true, pattern: '[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]', spellcheck: 'false' });
  const list = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const create = h('form', { className: 'row', onsubmit: async (e) => {
    e.preventDefault();
    if (await guarded(error, () => s3.createBucket(name.value))) location.hash = bucketHash(name.value);
  } }, name, h('button', { type: 'submit' }, 'Create bucket'));
  view.append(h('div', { className: 'card' }, h('h1', {}, 'Buckets'), create, error, list));
  const buckets = await guarded(error, () => s3.listBuckets());
  if (!buckets) return list.replaceChildren();
  list.replaceChildren(table(['Name', 'Created', ''], buckets.map((b) => [
    h('a', { href: bucketHash(b.name) }, b.name),
    formatDate(b.created),
    { actions: h('button', { className: 'danger', type: 'button', onclick: async () => {
      if (!confirm(`Delete the bucket "${b.name}"? It must be empty.`)) return;
      if (await guarded(error, () => s3.deleteBucket(b.name))) showAgain(view, () => showBuckets(view, s3));
    } }, 'Delete') },
  ]), 'No buckets yet: create one above'));
}

function showAgain(view, show) {
  view.replaceChildren();
  show();
}

function crumbs(bucket, prefix) {
  const parts = prefix.split('/').filter(Boolean);
  const links = [h('a', { href: '#/buckets' }, 'Buckets'), ' / ', h('a', { href: bucketHash(bucket) }, bucket)];
  parts.forEach((part, i) => links.push(' / ', h('a', { href: bucketHash(bucket, `${parts.slice(0, i + 1).join('/')}/`) }, part)));
  return h('h1', { className: 'crumbs' }, links);
}

export async function showObjects(view, s3, bucket, prefix) {
  const error = h('p', { className: 'error', role: 'alert' });
  const status = h('span', { className: 'hint', id: 'upload-status' });
  const files = h('input', { type: 'file', multiple: true, id: 'upload-input' });
  const folder = h('input', { placeholder: 'folder/ (optional)', id: 'upload-prefix', spellcheck: 'false' });
  const share = h('div', { className: 'share' });
  const rows = h('tbody');
  const more = h('button', { type: 'button', className: 'plain', hidden: true }, 'Load more');
  const reload = () => showAgain(view, () => showObjects(view, s3, bucket, prefix));
  // The listing is redrawn after an upload, not the whole view: the progress line stays to say it is done.
  files.addEventListener('change', () => upload(s3, { bucket, prefix: prefix + normalizeFolder(folder.value), files: [...files.files], status, error }).then(() => {
    files.value = '';
    rows.replaceChildren();
    token = undefined;
    return page();
  }));
  const versioning = h('span', { className: 'row hint', id: 'versioning' });
  view.append(h('div', { className: 'card' }, h('div', { className: 'row spread' }, crumbs(bucket, prefix), versioning),
    h('div', { className: 'row' }, h('label', {}, 'Upload to this folder', h('span', { className: 'row' }, folder, files)), status),
    error, share,
    h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Size', 'Modified', ''].map((t, i) => h('th', { className: i === 1 ? 'num' : undefined }, t)))), rows), more));
  let token;
  const page = async () => {
    const listed = await guarded(error, () => s3.listObjects(bucket, { prefix, token }));
    if (!listed) return;
    for (const p of listed.prefixes) rows.append(h('tr', {}, h('td', {}, h('a', { href: bucketHash(bucket, p) }, `${p.slice(prefix.length)}`)), h('td'), h('td'), h('td')));
    for (const o of listed.objects) rows.append(objectRow(s3, { bucket, object: o, prefix, error, share, reload }));
    if (!rows.children.length) rows.append(h('tr', {}, h('td', { colspan: '4', className: 'hint' }, 'Empty: upload files above')));
    token = listed.next;
    more.hidden = !token;
  };
  more.addEventListener('click', page);
  await Promise.all([page(), showVersioning(s3, bucket, versioning, error)]);
}

/** The bucket's versioning state and the button that turns it on or suspends it. */
async function showVersioning(s3, bucket, target, error) {
  const state = await guarded(error, () => s3.versioning(bucket));
  if (state === undefined) return;
  const next = state === 'Enabled' ? 'Suspended' : 'Enabled';
  const toggle = h('button', { type: 'button', className: 'plain', id: 'versioning-toggle', onclick: async () => {
    if (await guarded(error, () => s3.setVersioning(bucket, next))) await showVersioning(s3, bucket, target, error);
  } }, next === 'Enabled' ? 'Enable' : 'Suspend');
  target.replaceChildren(`Versioning: ${state === '' ? 'off' : state.toLowerCase()}`, toggle);
}

function normalizeFolder(text) {
  const trimmed = text.trim().replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function objectRow(s3, { bucket, object, prefix, error, share, reload }) {
  const key = object.key;
  const download = async () => {
    const url = await guarded(error, () => s3.presign(bucket, key, { expiresSec: 60, download: true }));
    if (url) h('a', { href: url, download: key.split('/').pop() }).click();
  };
  const remove = async () => {
    if (!confirm(`Delete "${key}"? With versioning on, its older versions stay.`)) return;
    if (await guarded(error, () => s3.deleteObject(bucket, key))) reload();
  };
  return h('tr', { 'data-key': key },
    h('td', {}, key.slice(prefix.length)),
    h('td', { className: 'num' }, formatBytes(object.size)),
    h('td', {}, formatDate(object.modified)),
    h('td', { className: 'actions' },
      h('button', { type: 'button', className: 'plain', onclick: download }, 'Download'),
      h('button', { type: 'button', className: 'plain', onclick: () => showShare(s3, { bucket, key, share, error }) }, 'Share'),
      h('button', { type: 'button', className: 'plain', onclick: () => (location.hash = versionsHash(bucket, key)) }, 'Versions'),
      h('button', { type: 'button', className: 'danger', onclick: remove }, 'Delete')));
}

const expiries = [['15 minutes', 900], ['1 hour', 3600], ['1 day', 86400], ['7 days (the most S3 allows)', 604800]];

function showShare(s3, { bucket, key, share, error }) {
  const expiry = h('select', { id: 'share-expiry' }, expiries.map(([label, sec]) => h('option', { value: String(sec) }, label)));
  const output = h('input', { readonly: true, id: 'share-url', placeholder: 'The link appears here' });
  const make = async () => {
    const url = await guarded(error, () => s3.presign(bucket, key, { expiresSec: Number(expiry.value) }));
    if (url) output.value = url;
    output.select();
  };
  const copy = () => navigator.clipboard?.writeText(output.value);
  share.replaceChildren(h('div', { className: 'card' }, h('h2', {}, `Share "${key}"`),
    h('div', { className: 'row' }, h('label', {}, 'Link valid for', expiry), h('button', { type: 'button', id: 'share-make', onclick: make }, 'Make link'),
      h('button', { type: 'button', className: 'plain', onclick: copy }, 'Copy')),
    output, h('p', { className: 'hint' }, 'Anyone with the link can download this object until it expires, or until this key is removed.')));
}

async function upload(s3, { bucket, prefix, files, status, error }) {
  error.textContent = '';
  for (const file of files) {
    const bar = progressBar(0, file.size);
    const text = h('span', {}, ` ${file.name}: 0%`);
    status.replaceChildren(bar, text);
    const done = await guarded(error, () => s3.upload(bucket, prefix + file.name, file, (sent, total) => {
      bar.value = sent;
      text.textContent = ` ${file.name}: ${Math.floor((sent / Math.max(total, 1)) * 100)}% of ${formatBytes(total)}`;
    }).then(() => true));
    // Said in the status line too: the listing redrawn next clears the error line.
    if (!done) return status.append(h('span', { className: 'bad' }, ` failed: ${error.textContent}`));
    status.append(h('span', { className: 'ok' }, ' uploaded'));
  }
}

export async function showVersions(view, s3, bucket, key) {
  const error = h('p', { className: 'error', role: 'alert' });
  const list = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';
  view.append(h('div', { className: 'card' }, crumbs(bucket, folder), h('h2', {}, `Versions of "${key}"`), error, list));
  const versions = await guarded(error, () => s3.listVersions(bucket, key));
  if (!versions) return list.replaceChildren();
  const reload = () => showAgain(view, () => showVersions(view, s3, bucket, key));
  list.replaceChildren(table(['Version', 'Modified', { num: 'Size' }, ''], versions.map((v) => [
    h('span', {}, v.versionId, v.latest ? h('strong', {}, ' (current)') : '', v.deleteMarker ? h('em', {}, ' delete marker') : ''),
    formatDate(v.modified),
    { num: v.deleteMarker ? '' : formatBytes(v.size) },
    { actions: [
      v.deleteMarker ? '' : h('button', { type: 'button', className: 'plain', onclick: async () => {
        const url = await guarded(error, () => s3.presign(bucket, key, { expiresSec: 60, versionId: v.versionId, download: true }));
        if (url) h('a', { href: url, download: key.split('/').pop() }).click();
      } }, 'Download'),
      h('button', { type: 'button', className: 'danger', onclick: async () => {
        if (!confirm(`Delete version "${v.versionId}" of "${key}" for good?`)) return;
        if (await guarded(error, () => s3.deleteObject(bucket, key, v.versionId))) reload();
      } }, 'Delete'),
    ] },
  ]), 'No versions: the key does not exist'));
}
