import { describe, expect, it } from 'vitest';
import { positionAt, splitJsonDocuments } from '../../../lib/cli/json-documents.js';

describe('splitJsonDocuments', () => {
  it('splits pretty-printed documents and says the line each starts on, braces inside strings included', () => {
    const text = '{\n  "a": "}{\\"",\n  "b": [1, {"c": 2}]\n}\n\n[\n  1\n]{"d":3}';

    expect(splitJsonDocuments(text)).toEqual({
      ok: true,
      docs: [
        { value: { a: '}{"', b: [1, { c: 2 }] }, line: 1 },
        { value: [1], line: 6 },
        { value: { d: 3 }, line: 8 },
      ],
    });
  });

  it('gives the line and column of the first error, of text between documents, and of a cut-off end', () => {
    expect(splitJsonDocuments('{"a": 1}\n{\n  "b": 2\n  "c": 3\n}')).toEqual({
      ok: false,
      error: "Expected ',' or '}' after property value",
      at: { line: 4, column: 3 },
    });
    expect(splitJsonDocuments('{"a": 1}\n  oops')).toMatchObject({
      ok: false,
      error: 'expected another JSON object or array after the last one, got "oops"',
      at: { line: 2, column: 3 },
    });
    expect(splitJsonDocuments('{"a": 1}\n{\n  "b": [1,')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/the text ends inside the document that starts at line 2 \(cut off\?\)$/),
      at: { line: 3 },
    });
  });

  it('positions are 1-based lines and columns', () => {
    expect(positionAt('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(positionAt('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
