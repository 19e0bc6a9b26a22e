/** How deep a record may nest before `limitDepth` cuts it; real audit bodies stay far below. */
export const MAX_RECORD_DEPTH = 64;

/** What a subtree cut by `limitDepth` is replaced with. */
export const DEPTH_MARKER = `[cut: nested deeper than ${MAX_RECORD_DEPTH} levels]`;

/**
 * Returns a copy of a JSON value with every subtree below `maxDepth` levels replaced by a marker,
 * and whether anything was cut. JSON.parse accepts nesting that JSON.stringify cannot write back
 * (it overflows the stack near 10,000 levels), so a record is cut rather than lost.
 */
export function limitDepth(value: unknown, maxDepth = MAX_RECORD_DEPTH): { value: unknown; cut: boolean } {
  let cut = false;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth >= maxDepth) {
      cut = true;
      return DEPTH_MARKER;
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      // defineProperty keeps a "__proto__" key a plain key instead of changing the prototype.
      Object.defineProperty(out, key, {
        value: walk((v as Record<string, unknown>)[key], depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  const result = walk(value, 0);
  return { value: result, cut };
}
