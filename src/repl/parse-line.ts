// Splits what the user typed after the command name into arguments. Quotes group words ("my backups/x.db"),
// a backslash escapes the next character outside single quotes, and the quotes themselves are removed.

export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) args.push(current);
  return args;
}

export type ParsedLine =
  { kind: 'empty' } | { kind: 'chat'; text: string } | { kind: 'command'; name: string; args: string[] };

/** A line starting with `/` is a command; anything else is a chat message. */
export function parseLine(line: string): ParsedLine {
  const text = line.trim();
  if (!text) return { kind: 'empty' };
  if (!text.startsWith('/')) return { kind: 'chat', text };
  const [name = '', ...args] = splitArgs(text.slice(1));
  return { kind: 'command', name: name.toLowerCase(), args };
}
