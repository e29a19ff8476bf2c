// Piscina loads its task module by path. Run from source (tsx, vitest), that path would be engine.ts, which a
// Node 20 worker cannot load even with `--import tsx` in its execArgv (ERR_UNKNOWN_FILE_EXTENSION, as
// ARCHITECTURE.md says). This entry registers tsx's hooks inside the thread first, then loads the tasks.
// After `tsc`, src/backup/copy-engine.ts points piscina at dist/workers/copy-engine/engine.js instead.
const tsx = await import('tsx/esm/api');
tsx.register();
const engine = await import('./engine.ts');

export default engine.default;
