// A cycle with redact.ts, which calls this module: both only read each other's exports when called.
import { REDACTED, scrubJwtText } from './redact.js';

// Credentials a request URI can carry that are no JWT: the value of a query parameter named for
// one, and the userinfo of a URL given in the query (a proxied app's `?next=https://user:pass@…`).
// Through `services/proxy`, `pods/proxy` and `nodes/proxy` the apiserver logs the proxied
// request's path and query as they were sent, so whatever the client put in the query is in
// `requestURI`. The names follow the defaults of two trace scrubbers, which match a name anywhere
// in it, case-insensitively: Datadog's query-string obfuscation (dd-trace `QueryObfuscator`:
// pass[phrase], p[ass]w[or]d, secret, token, sign[ature], auth[entication|orization],
// api/private/public/access/secret key) and Elastic APM's `sanitize_field_names` (password,
// passwd, pwd, secret, *key, *token*, *session*, authorization). Those cover OAuth 2.0's
// `access_token`, `refresh_token`, `id_token`, `client_secret` (RFC 6749, 6750), AWS SigV4 query
// auth's `X-Amz-Signature` and `X-Amz-Security-Token`, GCS `X-Goog-Signature`, `api_key`,
// `apikey`, `password`; added by exact name: Azure SAS `sig` and OAuth's authorization `code`
// (RFC 6749 4.1.2), which no substring rule can take without taking far more. Not credentials,
// so kept: `X-Amz-Credential` (an access key id, date and region), `X-Amz-Date`, a SAS's `sv`,
// `se`, `sp`, and every parameter of the Kubernetes API (`limit`, `continue`, `labelSelector`,
// `resourceVersion`, `command`, ...), none of whose names matches.
//
// A name is compared after percent-decoding (twice at most: `access%255Ftoken`) and lower-casing,
// with `-`, `_`, `.` and spaces removed (`X-Amz-Signature`, `api.key`, `client secret`). Names
// stay, as evidence of what leaked; each value becomes the marker, up to the next `&` or `#`
// (an encoded `%26` inside a value is part of it). A value that is exactly a JWT keeps its
// header and claims, as a JWT does anywhere else (lib/audit/redact.ts). A parameter may start
// after `?` or `&`, raw or encoded (`%3F`, `%26`): a URL inside another parameter's value
// (`?redirect=https%3A%2F%2Fapp%2Fcb%3Faccess_token%3D…`) is read too, and its credential's value
// is cut at the next raw `&`, so the outer value's rest goes with it rather than risk a leak.
// One pass over the query; a URI without `?` is returned after one search for it (a URL's
// userinfo is looked for in the query only: a proxied request's path holds none).

const SUBSTRINGS = ['token', 'secret', 'pass', 'pwd', 'signature', 'auth', 'session'];
// `cookie` and `set-cookie` (compared as `setcookie`): Elastic APM's default names `set-cookie`,
// and its agents take the request's cookies apart (a cookie header holds session ids); a
// command line's `curl -H "Cookie: …"` has no other name to tell.
const EXACT = new Set(['sig', 'code', 'cookie', 'setcookie']);
const KEY_SUFFIX = 'key';

/**
 * Every word a credential's name holds by this rule (each substring, the key suffix, each exact
 * name), for a caller that first asks whether a text may hold such a name at all.
 */
export const CREDENTIAL_NAME_WORDS: readonly string[] = [...SUBSTRINGS, KEY_SUFFIX, ...EXACT];

/**
 * A regular expression's source that finds each of those words in a text, a separator the rule
 * drops (`-`, `_`, `.`) allowed between any two of its letters: `DB-PASS`, `Pass_Word`, but also
 * `se_cret` and `P.W.D`, which the rule takes. A caller's prefilter built from it (case-insensitive)
 * never admits less than the rule does for a name without spaces or percent-escapes (a key of a
 * pairs file, a command line's flag); one built from the bare words would miss the split ones.
 */
export const CREDENTIAL_NAME_PATTERN = CREDENTIAL_NAME_WORDS.map((w) => [...w].join('[-_.]*')).join('|');

/** `text` with each valid `%XX` decoded (as Latin-1: names are compared, never shown); malformed escapes stay. */
function percentDecode(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      out += String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += c === 0x2b ? ' ' : text[i];
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

// Names repeat from event to event (every pod of a Deployment has the same env names), so the
// answer for a name of up to NAME_MEMO_LEN characters is remembered, up to NAME_MEMO_MAX names
// past which the memory starts again: at most 4096 × 64 characters, whatever a sender writes.
const NAME_MEMO = new Map<string, boolean>();
const NAME_MEMO_MAX = 4096;
const NAME_MEMO_LEN = 64;

/** Whether a query parameter's name (as written in the URI) names a credential. */
export function isCredentialParamName(raw: string): boolean {
  if (raw.length > NAME_MEMO_LEN) return namesCredential(raw);
  let known = NAME_MEMO.get(raw);
  if (known === undefined) {
    known = namesCredential(raw);
    if (NAME_MEMO.size >= NAME_MEMO_MAX) NAME_MEMO.clear();
    NAME_MEMO.set(raw, known);
  }
  return known;
}

function namesCredential(raw: string): boolean {
  const name = percentDecode(percentDecode(raw))
    .toLowerCase()
    .replace(/[-_.\s]/g, '');
  if (name === '') return false;
  if (EXACT.has(name) || name.endsWith(KEY_SUFFIX)) return true;
  for (const s of SUBSTRINGS) if (name.includes(s)) return true;
  return false;
}

/**
 * A JWT whose signature the marker replaced, starting the value or after `Bearer ` (a space, `+`
 * or `%20`): its header and claims, which stay as evidence. The record is normalised again from
 * its stored raw event (lib/sinks/sqlite.ts), so a value already in this form must stay too.
 */
const UNSIGNED_JWT = /^(?:bearer(?:%20|\+| ))?(e[wy][A-Za-z0-9_-]*\.[A-Za-z0-9_-]+)\.\[REDACTED\]$/i;

/** What a credential's value becomes: the marker, or a JWT's header and claims with the marker for its signature. */
export function redactedValue(value: string): string {
  const scrubbed = scrubJwtText(value);
  const unsigned = UNSIGNED_JWT.exec(scrubbed)?.[1];
  // Header and claims are a JWT's only when a signature after them makes one again.
  if (unsigned !== undefined && scrubJwtText(`${unsigned}.AA`) !== `${unsigned}.AA`) return scrubbed;
  return REDACTED;
}

/** Whether text at i is `%` followed by the two hex digits `hex` (upper-case given), in either case. */
function isEscape(text: string, i: number, hex: string): boolean {
  return (
    text.charCodeAt(i) === 0x25 &&
    text.charCodeAt(i + 1) === hex.charCodeAt(0) &&
    (text.charCodeAt(i + 2) | 0x20) === (hex.charCodeAt(1) | 0x20)
  );
}

/** The URI with the value of every query parameter named for a credential replaced by the marker. */
function scrubQuery(uri: string, q: number): string {
  const hash = uri.indexOf('#', q);
  const end = hash === -1 ? uri.length : hash;
  let out = '';
  let copied = 0;
  // Where the current parameter's name started; -1 inside a value, where `=` is no name's end.
  let nameStart = q + 1;
  let i = q + 1;
  while (i < end) {
    const c = uri.charCodeAt(i);
    if (c === 0x26 || c === 0x3f) {
      nameStart = ++i;
      continue;
    }
    if (isEscape(uri, i, '26') || isEscape(uri, i, '3F')) {
      i += 3;
      nameStart = i;
      continue;
    }
    const eq = c === 0x3d ? 1 : isEscape(uri, i, '3D') ? 3 : 0;
    if (eq === 0 || nameStart === -1) {
      i++;
      continue;
    }
    const valueStart = i + eq;
    if (isCredentialParamName(uri.slice(nameStart, i))) {
      const amp = uri.indexOf('&', valueStart);
      const valueEnd = amp === -1 || amp > end ? end : amp;
      if (valueEnd > valueStart) {
        out += uri.slice(copied, valueStart) + redactedValue(uri.slice(valueStart, valueEnd));
        copied = valueEnd;
      }
      i = valueEnd;
    } else i = valueStart;
    nameStart = -1;
  }
  return copied === 0 ? uri : out + uri.slice(copied);
}

function isAuthorityEnd(uri: string, i: number): boolean {
  const c = uri.charCodeAt(i);
  if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x26 || c === 0x20 || c === 0x22) return true;
  return isEscape(uri, i, '2F') || isEscape(uri, i, '3F') || isEscape(uri, i, '26') || isEscape(uri, i, '23');
}

/** The URI with the password (or, with no `:`, the whole userinfo) of each URL in it replaced by the marker. */
function scrubUserinfo(uri: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < uri.length) {
    const sep = uri.startsWith('://', i) ? 3 : isEscape(uri, i, '3A') && isEscape(uri, i + 3, '2F') && isEscape(uri, i + 6, '2F') ? 9 : 0;
    if (sep === 0) {
      i++;
      continue;
    }
    const start = i + sep;
    let at = -1;
    let j = start;
    for (; j < uri.length && !isAuthorityEnd(uri, j); j++) {
      if (uri.charCodeAt(j) === 0x40) {
        at = j;
      } else if (isEscape(uri, j, '40')) {
        at = j;
        j += 2;
      }
    }
    if (at > start) {
      const userinfo = uri.slice(start, at);
      const colon = userinfo.indexOf(':');
      const encodedColon = userinfo.search(/%3a/i);
      const cut = colon === -1 ? encodedColon : encodedColon === -1 ? colon : Math.min(colon, encodedColon);
      const keep = cut === -1 ? 0 : cut + (cut === colon ? 1 : 3);
      out += `${uri.slice(copied, start + keep)}${REDACTED}`;
      copied = at;
    }
    // The next URL can only start after this authority.
    i = j;
  }
  return copied === 0 ? uri : out + uri.slice(copied);
}

/**
 * `uri` with the credentials its query can carry replaced by the marker (see above): parameter
 * names kept, a JWT value's header and claims kept, a URL's userinfo in the query cut. The same
 * string when it holds none, or has no `?`.
 */
export function scrubUriCredentials(uri: string): string {
  // The normaliser's only cost for a URI without a query: this search.
  const q = uri.indexOf('?');
  if (q === -1) return uri;
  const scrubbed = scrubQuery(uri, q);
  if (!scrubbed.includes('@', q) && !scrubbed.includes('%40', q)) return scrubbed;
  return scrubbed.slice(0, q) + scrubUserinfo(scrubbed.slice(q));
}

// Free text that quotes a URL: an error the apiserver returns (`responseStatus.message`, a failed
// request's Status answer), where Go's `url.Error` writes `Post "https://…": dial tcp …`
// (net/url, `%s %q: %s`) and a webhook's denial or a ValidatingAdmissionPolicy's message is
// whatever its author wrote, and the values of audit annotations (a policy's `auditAnnotations`
// are CEL over the object). Each URL there, from its scheme to the first space, quote, `<`, `>`
// or backquote, loses what a requestURI would: its userinfo's password (Go's http.Client already
// writes `***` for it, other clients do not) and its credential query values.

function isSchemeChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

function isTextUrlEnd(c: number): boolean {
  return c <= 0x20 || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e || c === 0x60;
}

/** `text` with the credentials of each `scheme://` URL in it redacted (see above); the same string when it holds none. */
export function scrubTextUrls(text: string): string {
  let at = text.indexOf('://');
  if (at === -1) return text;
  let out = '';
  let copied = 0;
  while (at !== -1) {
    let start = at;
    while (start > copied && isSchemeChar(text.charCodeAt(start - 1))) start--;
    let end = at + 3;
    while (end < text.length && !isTextUrlEnd(text.charCodeAt(end))) end++;
    if (start < at) {
      const url = text.slice(start, end);
      const q = url.indexOf('?');
      const scrubbed = scrubUserinfo(q === -1 ? url : scrubQuery(url, q));
      if (scrubbed !== url) {
        out += text.slice(copied, start) + scrubbed;
        copied = end;
      }
    }
    at = text.indexOf('://', end);
  }
  return copied === 0 ? text : out + text.slice(copied);
}
