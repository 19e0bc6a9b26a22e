// Unicode's bidirectional controls show text in another order than it reads (`admin\u202Egnp.exe`
// displays as "adminexe.png"). Every place that shows a value someone else wrote (the CLI's
// tables, the web console) spells them out; the code points are listed here once, as the body of
// a regular expression's character class, for each to build the class it needs.

/** The embeddings and overrides (U+202A to U+202E) and the isolates (U+2066 to U+2069). */
export const BIDI_EMBEDDINGS_OVERRIDES_ISOLATES = '\\u202a-\\u202e\\u2066-\\u2069';

/** The marks: ARABIC LETTER MARK (U+061C), LEFT-TO-RIGHT MARK (U+200E), RIGHT-TO-LEFT MARK (U+200F). */
export const BIDI_MARKS = '\\u061c\\u200e\\u200f';
