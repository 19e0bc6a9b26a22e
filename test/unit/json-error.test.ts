import { describe, expect, it } from 'vitest';
import { jsonErrorReason } from '../../lib/json.js';

const reasonOf = (text: string): string => {
  try {
    JSON.parse(text);
  } catch (err) {
    return jsonErrorReason(err);
  }
  throw new Error('parsed');
};

describe("JSON.parse's reason, without the text it quotes", () => {
  it('drops what V8 quotes of the input, keeps the position-only messages', () => {
    const secret = 'k8s-audit-shared-secret-Zq4vN8pW2xR7tY1u';
    expect(reasonOf(secret)).toBe('the text is not valid JSON');
    expect(reasonOf(`[1,2,${secret}]`)).toBe('the text is not valid JSON');
    expect(reasonOf(`token=${secret}`)).not.toContain('token=');
    expect(reasonOf('{"a":1}x')).toBe('Unexpected non-whitespace character after JSON at position 7');
    expect(reasonOf('{a:1}')).toBe("Expected property name or '}' in JSON at position 1");
    expect(reasonOf('{"a":')).toBe('Unexpected end of JSON input');
  });
});
