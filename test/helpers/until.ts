import { vi } from 'vitest';

/**
 * Resolves once check() is true, polling it. The deadline is only there so that a wait that never comes true
 * ends; it is longer than the tests' own timeouts, because a wait is not an assertion about time and this
 * machine may be slow.
 */
export async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  await vi.waitUntil(check, { timeout: 300_000, interval: 10 });
}
