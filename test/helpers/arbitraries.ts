import fc from 'fast-check';

/** Keys an attacker would pick: ones that reach Object.prototype or shadow its methods. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/**
 * Any JSON value, with the awkward ones mixed in: numbers past 2^53, -0 and 1e308, and objects
 * keyed by prototype names. `maxItems` bounds arrays and objects, `maxStringLength` strings and
 * keys (unbounded when left out), so a property over large documents stays fast.
 */
export function hostileJson(opts: { maxItems: number; maxStringLength?: number }): fc.Arbitrary<unknown> {
  const string = opts.maxStringLength === undefined ? fc.string() : fc.string({ maxLength: opts.maxStringLength });
  const key = fc.oneof(string, fc.constantFrom(...PROTOTYPE_KEYS));
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(2 ** 53 + 1, -(2 ** 63), 1e308, -0),
      string,
      fc.array(tie('value'), { maxLength: opts.maxItems }),
      fc.dictionary(key, tie('value'), { maxKeys: opts.maxItems }),
    ),
  })).value;
}
