// Server-sent events as OpenAI-compatible servers send a streamed chat completion: `data: <json>` lines, an
// empty line after each event, `data: [DONE]` at the end. Comments (`: keep-alive`) and other fields (`event:`,
// `id:`) carry nothing a chat completion needs. Bytes arrive in arbitrary pieces, so a line is only read whole.

export class SseDataReader {
  private buffer = '';
  private data: string[] = [];

  /** Feeds text as it arrives; returns the data of every event completed by it. */
  push(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      // A lone \r at the very end may be the first half of \r\n: wait for the next piece.
      if (this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) events.push(this.data.join('\n'));
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
    return events;
  }

  /** The end of the stream completes an event that had no empty line after it. */
  end(): string[] {
    const events = this.push('\n\n');
    this.buffer = '';
    return events;
  }
}
