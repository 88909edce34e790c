#!/usr/bin/env node
// The `pgbackups` command: registers tsx in this process, then runs the TypeScript entry point. Resolved from this
// file's location, so it works from any working directory (`npx pgbackups …`).
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
