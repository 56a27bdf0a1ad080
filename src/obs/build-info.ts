import { createRequire } from 'node:module';

/** This build's version (package.json; src/obs and dist/obs are both two levels below it). */
export const VIGIL_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;
