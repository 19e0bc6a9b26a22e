// kube-apiserver's legacy audit line for an Event, written from the apiserver's own code so the
// tests read lines as the apiserver prints them, not as lib/audit/legacy.ts expects them:
// k8s.io/apiserver pkg/audit/format.go `EventString` (kubernetes/kubernetes
// 2e0908106e4420a601e50d6edfd41475de87a3e1), its values quoted as Go's `%q` (strconv.Quote) does.

interface EventLike {
  auditID?: string;
  stage?: string;
  sourceIPs?: string[];
  verb?: string;
  user?: { username?: string; groups?: string[] };
  impersonatedUser?: { username?: string; groups?: string[] | null };
  userAgent?: string;
  objectRef?: { namespace?: string };
  requestURI?: string;
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
  /** audit.k8s.io/v1beta1's time, for events recorded in that version. */
  timestamp?: string;
}

// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote: `\a \b \f \n \r \t \v \\ \"`, other control bytes as `\xNN`, unprintable runes as `\uNNNN` or `\UNNNNNNNN`. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    const simple: Record<number, string> = {
      7: '\\a',
      8: '\\b',
      12: '\\f',
      10: '\\n',
      13: '\\r',
      9: '\\t',
      11: '\\v',
      92: '\\\\',
      34: '\\"',
    };
    if (simple[cp] !== undefined) out += simple[cp];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** auditStringSlice: each name `%q`-quoted, joined by commas. */
function stringSlice(list: readonly string[]): string {
  return list.map(goQuote).join(',');
}

/**
 * EventString's line:
 * `%s AUDIT: id=%q stage=%q ip=%q method=%q user=%q groups=%q as=%q asgroups=%q user-agent=%q namespace=%q uri=%q response="%s"`
 * with its placeholders for absent values. `time` is the RFC3339Nano text of the receive time.
 */
export function eventString(ev: EventLike, time = ev.requestReceivedTimestamp ?? ev.timestamp ?? ''): string {
  let username = '<none>';
  let groups = '<none>';
  if ((ev.user?.username ?? '') !== '') {
    username = ev.user?.username as string;
    if ((ev.user?.groups?.length ?? 0) > 0) groups = stringSlice(ev.user?.groups as string[]);
  }
  let asuser = '<self>';
  let asgroups = '<lookup>';
  if (ev.impersonatedUser !== undefined) {
    asuser = ev.impersonatedUser.username ?? '';
    if (ev.impersonatedUser.groups != null) asgroups = stringSlice(ev.impersonatedUser.groups);
  }
  const namespace = (ev.objectRef?.namespace ?? '') !== '' ? (ev.objectRef?.namespace as string) : '<none>';
  const response = ev.responseStatus === undefined ? '<deferred>' : String(ev.responseStatus.code ?? 0);
  const ip = ev.sourceIPs?.[0] ?? '<unknown>';
  const q = goQuote;
  return `${time} AUDIT: id=${q(ev.auditID ?? '')} stage=${q(ev.stage ?? '')} ip=${q(ip)} method=${q(ev.verb ?? '')} user=${q(username)} groups=${q(groups)} as=${q(asuser)} asgroups=${q(asgroups)} user-agent=${q(ev.userAgent ?? '')} namespace=${q(namespace)} uri=${q(ev.requestURI ?? '')} response="${response}"`;
}
