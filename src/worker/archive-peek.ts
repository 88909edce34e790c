import type { Readable } from 'node:stream';
import { type ArchiveHeader, parseArchiveHeader } from '../core/archive-header.js';

/**
 * Reads an archive's header from the start of `stream` and puts the bytes back, so the stream is then read from
 * its first byte as if untouched. Rejects when the stream ends, fails, or turns out not to be a custom-format
 * archive — all before anything has been restored.
 */
export async function peekArchiveHeader(stream: Readable): Promise<ArchiveHeader> {
  const chunks: Buffer[] = [];
  try {
    for (;;) {
      const chunk = stream.read() as Buffer | string | null;
      if (chunk === null) {
        await nextReadable(stream);
        continue;
      }
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      const header = parseArchiveHeader(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      if (header) return header;
    }
  } finally {
    if (chunks.length > 0 && !stream.destroyed) stream.unshift(Buffer.concat(chunks));
  }
}

function nextReadable(stream: Readable): Promise<void> {
  if (stream.readableEnded)
    return Promise.reject(new Error('The archive ended before its header was complete'));
  return new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onEnd);
      if (e) reject(e);
      else resolve();
    };
    const onReadable = () => done();
    const onEnd = () => done(new Error('The archive ended before its header was complete'));
    const onError = (e: Error) => done(e);
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onEnd);
  });
}
