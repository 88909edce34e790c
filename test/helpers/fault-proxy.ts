/**
 * A TCP proxy on 127.0.0.1 that stands between a worker and a service (dynalite, s3rver) so a test can inject a
 * fault at a chosen moment: hold new connections (the service seems to hang), or cut everything once a number of
 * bytes went through and stop listening (the service died mid-request). It can then listen again on the same port.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private held: (() => void)[] | undefined;
  private cut: { after: number; seen: number; done: () => void } | undefined;
  private port = 0;

  /** `target` is read at each new connection, so the proxy can start before the service it fronts. */
  constructor(private readonly target: () => number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens (again, on the same port once it has one). */
  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    this.server = server;
  }

  /** New connections are accepted but not forwarded until `release()`. */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const go of waiting) go();
  }

  /**
   * After `bytes` more bytes from clients, every connection is destroyed and the proxy stops listening (the
   * service is gone: new connections are refused). Resolves when that happened.
   */
  cutAfter(bytes: number): Promise<void> {
    return new Promise((done) => {
      this.cut = { after: bytes, seen: 0, done };
    });
  }

  /** Destroys every connection and stops listening. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    client.pause();
    const connect = () => {
      if (client.destroyed) return;
      const upstream = createConnection({ host: '127.0.0.1', port: this.target() });
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.on('data', (chunk: Buffer) => {
        const cut = this.cut;
        if (cut) {
          cut.seen += chunk.length;
          if (cut.seen >= cut.after) {
            this.cut = undefined;
            void this.stop().then(cut.done);
            return;
          }
        }
        upstream.write(chunk);
      });
      upstream.pipe(client);
      client.resume();
    };
    if (this.held) this.held.push(connect);
    else connect();
  }
}
