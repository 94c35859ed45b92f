import type {
  ErrorFrame,
  MessageData,
  MessageSendAck,
  PresenceSignal,
  ReadyFrame,
  ResumeAck,
  ResyncRequiredFrame,
  TypingSignal,
} from "./generated/frames.js";
import { CleaveError, SignedOutError } from "./errors.js";
import type { Session } from "./session.js";

/** The part of the WebSocket API the client uses: the global one in browsers and React Native,
 * the `ws` package's in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A pushed event, as every stream family frames it (its `data` typed by `event`). */
export interface StreamEvent {
  type: "event";
  stream: string;
  seq: number;
  epoch: string;
  event: string;
  data: unknown;
}

export interface Position {
  seq: number;
  epoch: string | null;
}

export type SocketState = "connecting" | "ready" | "reconnecting" | "signed_out" | "closed";

export interface SocketOptions {
  /** The socket's URL, or how to find it (`GET /api/v1/meta` → `websocket_url`). */
  url: string | (() => Promise<string>);
  session: Session;
  WebSocket?: WebSocketConstructor;
  onEvent?: (event: StreamEvent) => void;
  onSignal?: (signal: TypingSignal | PresenceSignal) => void;
  /** The gap on `stream` cannot be replayed: refetch its state over REST. Events resume after
   * `position` once this returns. */
  onResync?: (stream: string, position: Position, reason: string) => void | Promise<void>;
  onStateChange?: (state: SocketState) => void;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  requestTimeoutMs?: number;
  random?: () => number;
}

// Close codes (contracts/asyncapi.json, x-close-codes).
const UNAUTHORIZED = 4401;
const UPGRADE_REQUIRED = 4426;
const HEARTBEAT_LOST = 4000; // ours: the server stopped answering pings
const RESUME_BATCH = 100; // streams per resume frame (the server's limit)

interface Pending {
  resolve: (frame: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface QueuedSend {
  frame: { type: "message.send"; conversation_id: number; text: string; client_msg_id: string };
  resolve: (ack: MessageSendAck) => void;
  reject: (error: Error) => void;
}

/**
 * One realtime socket per device: authenticates with an `auth` frame, keeps a heartbeat,
 * reconnects with exponential back-off and full jitter, and resumes every stream from the last
 * `seq` and `epoch` it saw, so a reconnect loses nothing and repeats nothing. Messages sent
 * through it are queued until acknowledged and sent again after a reconnect with the same
 * `client_msg_id`, which the server answers with the first message, never a copy.
 */
export class CleaveSocket {
  state: SocketState = "closed";
  userId: number | null = null;
  private readonly options: SocketOptions;
  private readonly positions = new Map<string, Position>();
  private readonly pending = new Map<string, Pending>();
  private readonly sends: QueuedSend[] = [];
  private socket: WebSocketLike | null = null;
  private nextId = 1;
  private failures = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readyWaiters: Array<() => void> = [];

  constructor(options: SocketOptions) {
    this.options = options;
  }

  /** Connect and wait until the socket is ready (authenticated, streams resumed). */
  async connect(): Promise<void> {
    this.stopped = false;
    const ready = this.whenReady();
    await this.open();
    await ready;
  }

  whenReady(): Promise<void> {
    if (this.state === "ready") return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** The last position seen per stream. */
  position(stream: string): Position | undefined {
    return this.positions.get(stream);
  }

  /** Start following `stream` from a position the app already holds (e.g. the last message's
   * seq it fetched over REST), so a reconnect resumes it even before any event arrived. */
  track(stream: string, position: Position): void {
    const known = this.positions.get(stream);
    if (known === undefined || known.seq < position.seq) this.positions.set(stream, position);
  }

  /** Send a message; resolves with the server's ack (the message with its `seq`). */
  sendMessage(conversationId: number, text: string, clientMsgId: string): Promise<MessageSendAck> {
    return new Promise((resolve, reject) => {
      const queued: QueuedSend = {
        frame: { type: "message.send", conversation_id: conversationId, text, client_msg_id: clientMsgId },
        resolve,
        reject,
      };
      this.sends.push(queued);
      if (this.state === "ready") this.flushSend(queued);
    });
  }

  /** Drop the connection as a network failure would (for tests of the reconnect path). */
  drop(): void {
    this.socket?.close(HEARTBEAT_LOST, "dropped");
  }

  close(): void {
    this.stopped = true;
    this.setState("closed");
    this.clearTimers();
    this.socket?.close(1000, "bye");
    this.socket = null;
    for (const send of this.sends.splice(0)) send.reject(new Error("socket closed"));
  }

  private async open(): Promise<void> {
    this.setState(this.failures === 0 && this.userId === null ? "connecting" : "reconnecting");
    let token: string;
    try {
      const tokens = await this.options.session.freshTokens();
      if (tokens === null) throw new Error("not signed in");
      token = tokens.access;
    } catch (error) {
      if (error instanceof SignedOutError || (error as Error).message === "not signed in") {
        this.stopped = true;
        this.setState("signed_out");
        return;
      }
      this.scheduleReconnect();
      return;
    }
    const url = typeof this.options.url === "string" ? this.options.url : await this.options.url();
    const Impl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Impl === undefined) throw new Error("no WebSocket implementation: pass options.WebSocket");
    const socket = new Impl(url);
    this.socket = socket;
    socket.onopen = () => {
      this.request({ type: "auth", token }).then(
        (frame) => this.onReady(frame as unknown as ReadyFrame),
        () => socket.close(HEARTBEAT_LOST, "auth unanswered"),
      );
    };
    socket.onmessage = (event) => this.onFrame(String(event.data));
    socket.onerror = () => undefined; // onclose follows and decides
    socket.onclose = (event) => {
      if (this.socket === socket) this.onClose(event.code);
    };
  }

  private async onReady(ready: ReadyFrame): Promise<void> {
    this.userId = ready.user_id;
    await this.resume();
    this.failures = 0;
    this.startHeartbeat();
    this.setState("ready");
    for (const waiter of this.readyWaiters.splice(0)) waiter();
    for (const send of this.sends) this.flushSend(send);
  }

  private async resume(): Promise<void> {
    const streams = [...this.positions.entries()];
    for (let start = 0; start < streams.length; start += RESUME_BATCH) {
      const batch = Object.fromEntries(
        streams.slice(start, start + RESUME_BATCH).map(([stream, { seq, epoch }]) => [
          stream,
          epoch === null ? seq : { seq, epoch },
        ]),
      );
      const ack = (await this.request({ type: "resume", streams: batch })) as unknown as ResumeAck;
      for (const [stream, outcome] of Object.entries(ack.streams)) {
        if (outcome?.reason === "forbidden") this.positions.delete(stream); // no longer ours
      }
    }
  }

  private onFrame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = frame.id;
    if ((frame.type === "ack" || frame.type === "ready" || frame.type === "error" || frame.type === "pong") && id != null) {
      const waiting = this.pending.get(String(id));
      if (waiting !== undefined) {
        this.pending.delete(String(id));
        clearTimeout(waiting.timer);
        if (frame.type === "error") {
          const { code, message, details } = (frame as unknown as ErrorFrame).error as { code: string; message: string; details?: unknown };
          waiting.reject(new CleaveError(400, code, message, details ?? null, null));
        } else {
          waiting.resolve(frame);
        }
        return;
      }
    }
    if (frame.type === "event") this.onEvent(frame as unknown as StreamEvent);
    else if (frame.type === "resync_required") void this.onResync(frame as unknown as ResyncRequiredFrame);
    else if (frame.type === "typing" || frame.type === "presence") {
      this.options.onSignal?.(frame as unknown as TypingSignal | PresenceSignal);
    }
  }

  private onEvent(event: StreamEvent): void {
    const known = this.positions.get(event.stream);
    if (known !== undefined && known.epoch === event.epoch && event.seq <= known.seq) return; // seen
    this.positions.set(event.stream, { seq: event.seq, epoch: event.epoch });
    this.options.onEvent?.(event);
  }

  private async onResync(frame: ResyncRequiredFrame): Promise<void> {
    const position = { seq: frame.seq, epoch: frame.epoch };
    await this.options.onResync?.(frame.stream, position, frame.reason);
    this.positions.set(frame.stream, position);
  }

  private onClose(code: number): void {
    this.socket = null;
    this.clearTimers();
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error("socket closed"));
      this.pending.delete(id);
    }
    if (this.stopped) return;
    if (code === UPGRADE_REQUIRED) {
      this.stopped = true;
      this.setState("closed");
      return;
    }
    if (code === UNAUTHORIZED) {
      // Expired or revoked: a refresh tells which (a revoked session signs out).
      void this.options.session.storage.load().then(async (tokens) => {
        try {
          if (tokens === null) throw new Error("not signed in");
          await this.options.session.refresh(tokens);
          this.scheduleReconnect();
        } catch {
          this.stopped = true;
          this.setState("signed_out");
        }
      });
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState("reconnecting");
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 250, maxMs: 30_000 };
    const ceiling = Math.min(maxMs, baseMs * 2 ** this.failures);
    this.failures++;
    const delay = (this.options.random ?? Math.random)() * ceiling; // full jitter
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private startHeartbeat(): void {
    const every = this.options.heartbeatMs ?? 25_000;
    this.heartbeat = setInterval(() => {
      this.request({ type: "ping" }, this.options.heartbeatTimeoutMs ?? 10_000).catch(() =>
        this.socket?.close(HEARTBEAT_LOST, "heartbeat lost"),
      );
    }, every);
  }

  private flushSend(queued: QueuedSend): void {
    this.request(queued.frame).then(
      (ack) => {
        const at = this.sends.indexOf(queued);
        if (at >= 0) this.sends.splice(at, 1);
        queued.resolve(ack as unknown as MessageSendAck);
      },
      (error: Error) => {
        if (error instanceof CleaveError) {
          const at = this.sends.indexOf(queued);
          if (at >= 0) this.sends.splice(at, 1);
          queued.reject(error); // the server refused it: sending again would not help
        } // else the socket dropped: it stays queued and goes again after the reconnect
      },
    );
  }

  private request(frame: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>> {
    const socket = this.socket;
    if (socket === null) return Promise.reject(new Error("not connected"));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${String(frame.type)}`));
      }, timeoutMs ?? this.options.requestTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  private clearTimers(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.heartbeat = this.reconnectTimer = null;
  }

  private setState(state: SocketState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange?.(state);
  }
}

export type { MessageData };
