/**
 * The secret prompt of `databases:add NAME --url -` on a real terminal: a pseudo-TTY made by util-linux
 * `script`, whose transcript is everything the terminal showed. The control shows the same terminal echoes typed
 * input when a program does not hide it, so the check can fail.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/pgbackups-cli.js', import.meta.url));
const TYPED = 'postgres://me:s3cret@db.example.com/shop';

/** Runs `command` on a pseudo-terminal, typing `typed` once it had time to prompt; returns the transcript. */
function onTerminal(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TERM: 'xterm',
        PGBACKUPS_API_URL: 'http://127.0.0.1:1',
        PGBACKUPS_APP: 'example-app',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let typed = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      // Type only once the prompt is on the terminal, as a person would.
      if (!typed && /Connection URL|ready/.test(out)) {
        typed = true;
        child.stdin.write(`${TYPED}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

describe('the secret prompt on a terminal', () => {
  it('does not echo the URL typed at databases:add --url -', async () => {
    const transcript = await onTerminal(`node ${BIN} databases:add DATABASE --url -`);
    expect(transcript).toContain('Connection URL (postgres://…; not shown as you type):');
    // The URL was read (the command went on to the API, which is not there), yet never shown.
    expect(transcript).toContain('Could not reach the pgbackups API');
    expect(transcript).not.toContain('s3cret');
  });

  it('control: the same terminal echoes what a plain read gets', async () => {
    const transcript = await onTerminal(`sh -c 'echo ready; head -n1 >/dev/null'`);
    expect(transcript).toContain(TYPED);
  });
});
