/** Entry point of the `pgbackups` command (bin/pgbackups-cli.js runs it through tsx). */
import { runCli } from './cli.js';
import { processIo } from './io.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
