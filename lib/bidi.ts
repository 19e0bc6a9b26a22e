// Unicode's bidirectional controls show text in another order than it reads (`admin\u202Egnp.exe`
// displays as "adminexe.png"). Every place that shows a value someone else wrote (the CLI's
// tables, the web console) spells them out; the code points are listed here once, as the body of
// a regular expression's character class, for each to build the class it needs.

/**
 * The embeddings and overrides (U+202A to U+202E), the isolates (U+2066 to U+2069) and the marks:
 * ARABIC LETTER MARK (U+061C), LEFT-TO-RIGHT MARK (U+200E), RIGHT-TO-LEFT MARK (U+200F), which
 * move the neutral characters around them (`a\u200f-b` shows its `-` on the other side).
 */
export const BIDI_CONTROLS = '\\u202a-\\u202e\\u2066-\\u2069\\u061c\\u200e\\u200f';

/**
 * Characters that take no space on screen: SOFT HYPHEN (U+00AD), MONGOLIAN VOWEL SEPARATOR
 * (U+180E), ZERO WIDTH SPACE, NON-JOINER and JOINER (U+200B to U+200D), WORD JOINER and the
 * invisible operators (U+2060 to U+2064), ZERO WIDTH NO-BREAK SPACE (U+FEFF). A user name
 * `system:kube-sched\u200buler` looks exactly like `system:kube-scheduler` unless they are spelled
 * out. (The TAG characters, U+E0000 to U+E007F, are invisible too; outside the BMP, a class built
 * from this string without the `u` flag cannot hold them.)
 */
export const INVISIBLE_CHARACTERS = '\\u00ad\\u180e\\u200b-\\u200d\\u2060-\\u2064\\ufeff';

/**
 * What a value someone else wrote is shown with spelled out, wherever it is shown (the CLI's tables,
 * the web console): the C0 and C1 controls (terminal escapes, line breaks, a NUL), the bidirectional
 * controls, the characters that take no space, and the TAG characters (as the surrogate pairs a
 * string holds them in, so the class needs no `u` flag). The source of a global RegExp.
 */
export const HIDDEN_CHARACTERS = `[\\u0000-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}${INVISIBLE_CHARACTERS}]|\\udb40[\\udc00-\\udc7f]`;
