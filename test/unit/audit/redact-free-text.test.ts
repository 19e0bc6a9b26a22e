// The rule of credentials in free text (lib/audit/redact-uri.ts scrubTextUrls): URLs quoted in
// error text, as Go's net/url writes them (`Post "https://…": …`).
import { describe, expect, it } from 'vitest';
import { scrubTextUrls } from '../../../lib/audit/redact-uri.js';

describe('URLs in text', () => {
  it('takes a userinfo password and a credential query value, and returns the same string otherwise', () => {
    expect(scrubTextUrls('Post "https://u:p@h/x?timeout=10s&token=t": EOF')).toBe(
      'Post "https://u:[REDACTED]@h/x?timeout=10s&token=[REDACTED]": EOF',
    );
    const text = 'failed calling webhook "v.example.com": failed to call webhook: Post "https://v.ns.svc:443/validate?timeout=10s": EOF';
    expect(scrubTextUrls(text)).toBe(text);
  });
});
