import { afterEach, describe, expect, it } from 'vitest';
import { formatTime, nameStamp } from '../src/format/time.js';
import { formatBytes } from '../src/format/size.js';

// One way to show a moment to a person: local wall time with its offset from UTC. The zone comes from TZ, so
// each case sets it (Node applies a change of process.env.TZ at once).

const zone = process.env.TZ;
afterEach(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('formatTime', () => {
  const moment = new Date('2025-06-01T02:00:09Z');

  it('shows UTC as +00:00', () => {
    process.env.TZ = 'UTC';
    expect(formatTime(moment)).toBe('2025-06-01 02:00:09 +00:00');
  });

  it('shows a zone ahead of UTC by hours and minutes, and the name stamp in the same wall time', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(formatTime(moment)).toBe('2025-06-01 07:30:09 +05:30');
    expect(nameStamp(moment)).toBe('2025-06-01-073009');
  });

  it('shows a zone behind UTC, on the previous day, with its summer offset', () => {
    process.env.TZ = 'America/St_Johns';
    expect(formatTime(moment)).toBe('2025-05-31 23:30:09 -02:30');
    expect(formatTime(new Date('2025-01-01T02:00:09Z'))).toBe('2024-12-31 22:30:09 -03:30');
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal, bytes below 1 KiB', () => {
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(502_474_342)).toBe('479.2 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
