// A file name can hold any byte but `/` and NUL: a newline in a backup's name printed raw made `backup list`
// show a line that was not a backup, and an escape sequence can rewrite the terminal. Names shown to a person go
// through here; JSON output keeps the real name (JSON escapes it by itself).

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidirectional overrides.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/** text with control characters shown as escapes (`\n`, `\x1b`, `\u2028`); backslashes doubled only then. */
export function printable(text: string): string {
  if (!new RegExp(UNPRINTABLE.source).test(text)) return text;
  return text.replace(new RegExp(`${UNPRINTABLE.source}|\\\\`, 'g'), (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
