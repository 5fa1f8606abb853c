// Users and access keys (admin API, root key only): list, create and delete users; a user's access keys
// (a new key's secret shown once, never again), their status and removal; its attached identity policies.
import { explainRootOnly, formatDate, guarded, h, table } from './ui.js';

export const userHash = (userName) => (userName === undefined ? '#/iam' : `#/iam/${encodeURIComponent(userName)}`);

const examplePolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'] }],
}, null, 2);

const when = (ms) => formatDate(new Date(ms).toISOString());
const post = (s3, route, body) => s3.admin('POST', `iam/${route}`, { body });

export async function showIam(view, s3, userName) {
  const error = h('p', { className: 'error', role: 'alert' });
  const name = h('input', { id: 'new-user', placeholder: 'new-user-name', required: true, pattern: '[A-Za-z0-9+=,.@_\\-]{1,64}', spellcheck: 'false' });
  const list = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const create = h('form', { className: 'row', onsubmit: async (e) => {
    e.preventDefault();
    const created = await guarded(error, () => post(s3, 'users/create', { userName: name.value }));
    if (created) location.hash = userHash(created.userName);
  } }, name, h('button', { type: 'submit' }, 'Create user'));
  const detail = h('div');
  view.append(h('div', { className: 'card' }, h('h1', {}, 'Users & keys'), create, error, list,
    h('p', { className: 'hint' }, 'Each user signs with its own access keys (at most 2) and may do only what its attached policies allow. The root key is not a user: it is set at startup and is not listed here.')), detail);
  // Redrawn after every change below, so its key ids and policy names stay true; the user's card stays.
  const drawList = async () => {
    const found = await guarded(error, () => s3.admin('GET', 'iam/users'));
    if (!found) return undefined;
    list.replaceChildren(table(['User', 'Created', 'Access keys', 'Policies', ''], found.users.map((u) => [
      h('a', { href: userHash(u.userName), className: u.userName === userName ? 'selected' : undefined }, u.userName),
      when(u.createdMs), h('span', { className: 'mono' }, u.accessKeyIds.join(', ') || '–'), u.policyNames.join(', ') || '–',
      { actions: h('button', { type: 'button', className: 'danger', onclick: async () => {
        if (!(await guarded(error, () => deleteUser(s3, u)))) return;
        if (u.userName === userName) location.hash = userHash(undefined);
        else await drawList();
      } }, 'Delete') },
    ]), 'No users yet: create one above'));
    return found.users;
  };
  const users = await drawList();
  if (!users) {
    explainRootOnly(error, 'manage users and keys');
    create.hidden = true;
    return list.replaceChildren();
  }
  if (userName === undefined) return;
  const user = users.find((u) => u.userName === userName);
  if (!user) return void (error.textContent = `No user named "${userName}"`);
  await showUser(detail, s3, user, drawList);
}

/** Deletes a user with its keys and policies, as the AWS console does, once the operator agrees. */
async function deleteUser(s3, u) {
  const held = [u.accessKeyIds.length && `${u.accessKeyIds.length} access key(s)`, u.policyNames.length && `${u.policyNames.length} attached policy(ies)`].filter(Boolean);
  if (!confirm(`Delete the user "${u.userName}"${held.length ? ` with its ${held.join(' and ')}` : ''}? Requests signed with its keys are refused from then on.`)) return false;
  for (const accessKeyId of u.accessKeyIds) await post(s3, 'keys/delete', { accessKeyId });
  for (const policyName of u.policyNames) await post(s3, 'policies/detach', { userName: u.userName, policyName });
  await post(s3, 'users/delete', { userName: u.userName });
  return true;
}

async function showUser(detail, s3, user, changed) {
  const { userName } = user;
  const error = h('p', { className: 'error', role: 'alert', id: 'user-error' });
  const secret = h('div');
  const keys = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const policies = h('div', {}, h('p', { className: 'hint' }, 'Loading…'));
  const newKey = h('button', { type: 'button', id: 'create-key', onclick: async () => {
    const created = await guarded(error, () => post(s3, 'keys/create', { userName }));
    if (!created) return;
    secret.replaceChildren(secretBox(created));
    await Promise.all([drawKeys(), changed()]);
  } }, 'Create access key');
  const attach = attachForm(s3, userName, () => Promise.all([drawPolicies(), changed()]));
  detail.append(h('div', { className: 'card', id: 'user' }, h('h2', {}, `User "${userName}"`), h('p', { className: 'hint mono' }, user.arn), error, secret,
    h('div', { className: 'row spread' }, h('h3', {}, 'Access keys'), newKey), keys,
    h('h3', {}, 'Policies'), policies, attach.form));
  const drawKeys = async () => {
    const found = await guarded(error, () => s3.admin('GET', 'iam/keys', { pairs: [['user', userName]] }));
    if (!found) return;
    keys.replaceChildren(table(['Access key ID', 'Status', 'Created', ''], found.accessKeys.map((k) => [
      h('span', { className: 'mono' }, k.accessKeyId), h('span', { className: k.status === 'Active' ? 'ok' : 'bad' }, k.status), when(k.createdMs),
      { actions: [
        h('button', { type: 'button', className: 'plain', onclick: async () => {
          const status = k.status === 'Active' ? 'Inactive' : 'Active';
          if (await guarded(error, () => post(s3, 'keys/update', { accessKeyId: k.accessKeyId, status }))) await drawKeys();
        } }, k.status === 'Active' ? 'Disable' : 'Enable'),
        h('button', { type: 'button', className: 'danger', onclick: async () => {
          if (!confirm(`Delete the access key "${k.accessKeyId}"? Requests signed with it, share links too, are refused from then on.`)) return;
          if (await guarded(error, () => post(s3, 'keys/delete', { accessKeyId: k.accessKeyId }))) await Promise.all([drawKeys(), changed()]);
        } }, 'Delete'),
      ] },
    ]), 'No access keys: this user cannot sign anything yet'));
  };
  const drawPolicies = async () => {
    const found = await guarded(error, () => s3.admin('GET', 'iam/policies', { pairs: [['user', userName]] }));
    if (!found) return;
    policies.replaceChildren(table(['Policy', 'Attached', ''], found.policies.map((p) => [
      p.policyName, when(p.attachedMs),
      { actions: [
        h('button', { type: 'button', className: 'plain', onclick: () => attach.edit(p) }, 'Edit'),
        h('button', { type: 'button', className: 'danger', onclick: async () => {
          if (!confirm(`Detach the policy "${p.policyName}" from "${userName}"?`)) return;
          if (await guarded(error, () => post(s3, 'policies/detach', { userName, policyName: p.policyName }))) await Promise.all([drawPolicies(), changed()]);
        } }, 'Detach'),
      ] },
    ]), 'No policies: this user is refused everything'));
  };
  await Promise.all([drawKeys(), drawPolicies()]);
}

/** The one place a key's secret is ever shown: the admin API returns it only in the creation's answer. */
function secretBox(created) {
  const field = (label, id, value) => {
    const input = h('input', { id, value, readonly: true, spellcheck: 'false' });
    const copy = h('button', { type: 'button', className: 'plain', onclick: () => copyText(input, copy) }, 'Copy');
    return h('div', { className: 'row' }, h('label', {}, label, input), copy);
  };
  const box = h('div', { className: 'card secret', id: 'new-key' },
    h('h3', {}, `New access key for "${created.userName}"`),
    h('p', { className: 'warn', role: 'alert' }, 'Copy the secret access key now: this is the only time it is shown. It cannot be shown again; if it is lost, delete this key and create another.'),
    field('Access key ID', 'new-key-id', created.accessKeyId),
    field('Secret access key', 'new-key-secret', created.secretAccessKey),
    h('button', { type: 'button', onclick: () => box.remove() }, 'I have copied it: hide the secret'));
  return box;
}

async function copyText(input, button) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // navigator.clipboard exists only in secure contexts (not plain HTTP to a remote host).
    document.execCommand('copy');
  }
  button.textContent = 'Copied';
}

/** Attach (or replace, by name) a policy from pasted JSON; the server's validation error is shown under it. */
function attachForm(s3, userName, attached) {
  const error = h('p', { className: 'error', role: 'alert', id: 'policy-error' });
  const policyName = h('input', { id: 'policy-name', required: true, placeholder: 'read-photos', spellcheck: 'false' });
  const documentText = h('textarea', { id: 'policy-document', rows: '7', required: true, spellcheck: 'false', placeholder: examplePolicy });
  const form = h('form', { id: 'attach-policy', onsubmit: async (e) => {
    e.preventDefault();
    const done = await guarded(error, () => post(s3, 'policies/attach', { userName, policyName: policyName.value.trim(), document: documentText.value }));
    if (!done) return;
    form.reset();
    await attached();
  } },
  h('h3', {}, 'Attach a policy'),
  h('div', { className: 'row' }, h('label', {}, 'Name', policyName), h('span', { className: 'hint' }, 'A policy of the same name is replaced.')),
  h('label', {}, 'Policy document (IAM JSON: Version, Statement)', documentText), error, h('button', { type: 'submit' }, 'Attach policy'));
  const edit = (p) => {
    policyName.value = p.policyName;
    documentText.value = p.document;
    documentText.focus();
  };
  return { form, edit };
}
