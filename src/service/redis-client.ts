/**
 * A minimal Redis client: RESP2 over one TCP socket, shaped like Bun's built-in RedisClient (`send`,
 * `connected`, `onconnect`/`onclose`, `duplicate`) so that BullMQ's own adapter (createBunRedisClient)
 * turns it into the client BullMQ runs on. BullMQ 6 ships no Redis driver (ioredis and node-redis are
 * optional peers that this project does not install), so this one speaks the protocol itself. Commands
 * are pipelined on the socket; Redis answers them in order.
 */
import { connect as netConnect, type Socket } from 'node:net';

/** Where a `redis://[user:password@]host[:port][/db]` URL points. */
export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
}

/** Parses a redis:// URL; throws a plain Error naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('not a URL (expected redis://host:port)');
  }
  if (parsed.protocol !== 'redis:') throw new Error(`${parsed.protocol} is not supported (expected redis://host:port)`);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`${parsed.pathname.slice(1)} is not a database number`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db,
  };
}

type Reply = string | number | null | Error | Reply[];

interface Pending {
  resolve(value: Reply): void;
  reject(error: Error): void;
}

/** Thrown for commands on a closed connection; BullMQ's adapter knows this message. */
const CLOSED = 'Connection closed';

export class RespClient {
  connected = false;
  onconnect?: () => void;
  onclose?: (error?: Error) => void;
  onerror?: (error: Error) => void;
  private socket?: Socket;
  private readonly pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next reply can be complete (a long bulk string arriving in pieces). */
  private needed = 0;

  /** `connectTimeoutMs` bounds the TCP connect and the AUTH/SELECT that follow. */
  constructor(
    readonly url: string,
    private readonly connectTimeoutMs = 10_000,
  ) {
    parseRedisUrl(url);
  }

  connect(): Promise<void> {
    const target = parseRedisUrl(this.url);
    return new Promise<void>((resolve, reject) => {
      const socket = netConnect({ host: target.host, port: target.port });
      this.socket = socket;
      let ready = false;
      const timer = setTimeout(
        () => socket.destroy(new Error(`no answer in ${(this.connectTimeoutMs / 1000).toFixed(0)} s`)),
        this.connectTimeoutMs,
      );
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      socket.on('data', (data) => this.received(data));
      socket.on('error', (error) => {
        if (ready) this.onerror?.(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const error = new Error(CLOSED);
        for (const p of this.pending.splice(0)) p.reject(error);
        this.chunks = [];
        this.buffered = this.needed = 0;
        const was = this.connected;
        this.connected = false;
        if (was) this.onclose?.(error);
      });
      socket.once('close', () => {
        if (!ready) reject(lastError ?? new Error(CLOSED));
      });
      let lastError: Error | undefined;
      socket.once('error', (error) => {
        lastError = error;
      });
      socket.once('connect', async () => {
        try {
          if (target.password !== undefined) {
            const auth = target.username ? [target.username, target.password] : [target.password];
            await this.send('AUTH', auth);
          }
          if (target.db) await this.send('SELECT', [String(target.db)]);
          clearTimeout(timer);
          ready = true;
          this.connected = true;
          this.onconnect?.();
          resolve();
        } catch (error) {
          lastError = error as Error;
          socket.destroy();
        }
      });
    });
  }

  /** Sends one command; resolves with its reply, rejects with Redis's error. */
  send(command: string, args: readonly unknown[]): Promise<Reply> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.reject(new Error(CLOSED));
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      socket.write(encodeCommand(command, args));
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  /** A new, unconnected client for the same server. */
  async duplicate(): Promise<RespClient> {
    return new RespClient(this.url, this.connectTimeoutMs);
  }

  private received(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < this.needed) return;
    let buffer = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    let offset = 0;
    while (offset < buffer.length) {
      const parsed = parseReply(buffer, offset);
      if (typeof parsed === 'number') {
        this.needed = parsed - offset;
        break;
      }
      offset = parsed.end;
      this.needed = 0;
      const pending = this.pending.shift();
      if (!pending) continue; // nothing asked for it (cannot happen without pub/sub)
      if (parsed.value instanceof Error) pending.reject(parsed.value);
      else pending.resolve(parsed.value);
    }
    buffer = buffer.subarray(offset);
    this.chunks = buffer.length ? [buffer] : [];
    this.buffered = buffer.length;
  }
}

function encodeCommand(command: string, args: readonly unknown[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n$${Buffer.byteLength(command)}\r\n${command}\r\n`)];
  for (const arg of args) {
    const bytes =
      arg instanceof Uint8Array ? Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength) : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/**
 * One reply at `offset`: its value and where it ends, or, when the buffer holds only part of it, the
 * least total length the buffer must reach before trying again.
 */
function parseReply(buffer: Buffer, offset: number): { value: Reply; end: number } | number {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd < 0) return buffer.length + 1;
  const type = buffer[offset];
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case 0x2b: // +
      return { value: line, end: next };
    case 0x2d: // -
      return { value: new Error(line), end: next };
    case 0x3a: // :
      return { value: Number(line), end: next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return next + length + 2;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (typeof item === 'number') return item;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected Redis reply type ${String.fromCharCode(type)}`);
  }
}
