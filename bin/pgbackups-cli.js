#!/usr/bin/env node
// The `pgbackups` command of the repository (`npm link`, `npm exec pgbackups` inside it): registers tsx in this
// process, then runs the TypeScript entry point, resolved from this file's location. What users install is the
// bundle `npm run build:cli` packs (src/cli/build.ts), which needs neither tsx nor this repository.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
