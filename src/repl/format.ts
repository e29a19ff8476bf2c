// Text helpers for the REPL's own output. Times and sizes are in src/format/.

/** One line, at most `max` characters: newlines become spaces, the rest is cut with an ellipsis. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}
