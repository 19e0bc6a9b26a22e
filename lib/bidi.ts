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
