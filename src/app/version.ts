import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The version comes from package.json, found by walking up from this file: it sits two levels up from
// src/app/ under tsx and three levels up from dist/src/app/ after tsc, and JSON imports still warn on Node 20.

let cached: string | undefined;

export function appVersion(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nu-agent' && pkg.version) return (cached = pkg.version);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (cached = '0.0.0');
    dir = parent;
  }
}
