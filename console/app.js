// The console's entry: the session (an access key in sessionStorage, this tab only), sign-in and sign-out,
// and the hash router that hands each view its part of the page.
import { S3 } from './s3.js';
import { setServerDate } from './sigv4.js';
import { showBuckets, showObjects, showVersions } from './browse.js';
import { showAdmin } from './admin.js';
import { showIam } from './iam.js';

const sessionKey = 'tessera.console.key';
const $ = (id) => document.getElementById(id);

async function serverConfig() {
  const res = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
  setServerDate(res.headers.get('date'));
  return res.json();
}

function stored() {
  try {
    const creds = JSON.parse(sessionStorage.getItem(sessionKey) ?? 'null');
    return creds?.accessKeyId && creds?.secretAccessKey && creds?.region ? new S3(creds) : undefined;
  } catch {
    return undefined;
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = $('login');
  const button = form.querySelector('button');
  button.disabled = true;
  $('login-error').textContent = '';
  try {
    const { region } = await serverConfig();
    const s3 = new S3({ accessKeyId: form.accessKeyId.value.trim(), secretAccessKey: form.secretAccessKey.value, region });
    // The cheapest call that proves the key and its secret. AccessDenied comes only once the signature
    // checked out: a user whose policies do not allow s3:ListAllMyBuckets signs in and sees that refusal.
    await s3.listBuckets().catch((err) => {
      if (err.code !== 'AccessDenied') throw err;
    });
    sessionStorage.setItem(sessionKey, JSON.stringify(s3.creds));
    form.reset();
    if (!location.hash || location.hash === '#/login') location.hash = '#/buckets';
    route();
  } catch (err) {
    const wrongKey = err.code === 'SignatureDoesNotMatch' || err.code === 'InvalidAccessKeyId';
    $('login-error').textContent = wrongKey ? `Sign-in failed: wrong access key ID or secret (${err.code})` : `Sign-in failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  sessionStorage.removeItem(sessionKey);
  location.hash = '#/login';
  route();
}

/** #/buckets, #/b/BUCKET/PREFIX, #/v/BUCKET/KEY (versions), #/admin, #/iam, #/iam/USER; the parts are URI-encoded. */
function route() {
  const s3 = stored();
  $('login').hidden = Boolean(s3);
  $('top').hidden = !s3;
  // Each visit renders into a fresh box: a slow answer for a view already left lands in a detached node.
  const view = document.createElement('div');
  $('view').replaceChildren(view);
  if (!s3) return;
  $('who').textContent = s3.creds.accessKeyId;
  const parts = location.hash.split('/').map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const [name, bucket] = [parts[1], parts[2]];
  const tail = parts.slice(3).join('/');
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.view === (name === 'b' || name === 'v' ? 'buckets' : name));
  if (name === 'b' && bucket) return showObjects(view, s3, bucket, tail);
  if (name === 'v' && bucket) return showVersions(view, s3, bucket, tail);
  if (name === 'admin') return showAdmin(view, s3);
  if (name === 'iam') return showIam(view, s3, bucket || undefined);
  return showBuckets(view, s3);
}

$('login').addEventListener('submit', signIn);
$('logout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
route();
