import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/openapi.js";
import { CleaveError } from "./errors.js";
import { Session, tokensFromAnswer, type SessionOptions } from "./session.js";
import { CleaveSocket, type SocketOptions } from "./socket.js";

export type Schemas = components["schemas"];
export type DeviceIn = Schemas["DeviceIn"];
export type Flags = Schemas["FlagsOut"];

/**
 * Cleave for an app: `api` is the whole REST API typed from the OpenAPI document (openapi-fetch:
 * `api.GET("/api/v1/conversations", …)`), through a session that signs requests, refreshes
 * tokens and retries safely; `socket()` is the realtime connection.
 */
export class CleaveClient {
  readonly session: Session;
  readonly api: Client<paths>;
  private flagsCache: { etag: string; flags: Flags; query: string } | null = null;

  constructor(options: SessionOptions) {
    this.session = new Session(options);
    this.api = createClient<paths>({ baseUrl: this.session.baseUrl, fetch: this.session.fetch });
  }

  /** Sign in from this device; the tokens go to the session's storage. */
  async signIn(email: string, password: string, device: DeviceIn): Promise<Schemas["TokensOut"]> {
    const { data, error, response } = await this.api.POST("/api/v1/auth/login", {
      body: { email, password, device },
    });
    if (data === undefined) throw CleaveError.fromBody(response, error);
    await this.session.signIn(tokensFromAnswer(data));
    return data;
  }

  /** Sign this session out on the server and forget its tokens. */
  async signOut(): Promise<void> {
    try {
      await this.api.POST("/api/v1/auth/logout");
    } finally {
      await this.session.forget();
    }
  }

  /** The client-visible flags; a repeated call asks with the last ETag and gets 304 (nothing
   * sent) while nothing changed. `notModified` tells which happened. */
  async flags(query: { platform?: string; app_version?: string; device_id?: string } = {}): Promise<{
    flags: Flags;
    notModified: boolean;
  }> {
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined) as [string, string][]);
    const key = search.toString();
    const headers: Record<string, string> = {};
    if (this.flagsCache !== null && this.flagsCache.query === key) headers["If-None-Match"] = this.flagsCache.etag;
    const response = await this.session.fetch(
      new Request(`${this.session.baseUrl}/api/v1/flags${key ? `?${key}` : ""}`, { headers }),
    );
    if (response.status === 304 && this.flagsCache !== null) {
      return { flags: this.flagsCache.flags, notModified: true };
    }
    if (!response.ok) throw await CleaveError.from(response);
    const flags = (await response.json()) as Flags;
    const etag = response.headers.get("ETag");
    this.flagsCache = etag !== null ? { etag, flags, query: key } : null;
    return { flags, notModified: false };
  }

  /** The device's realtime socket (its URL from `GET /api/v1/meta`). Call `connect()` on it. */
  socket(options: Omit<SocketOptions, "url" | "session"> & { url?: string } = {}): CleaveSocket {
    const url =
      options.url ??
      (async () => {
        const { data, error, response } = await this.api.GET("/api/v1/meta");
        if (data === undefined) throw CleaveError.fromBody(response, error);
        return data.websocket_url;
      });
    return new CleaveSocket({ ...options, url, session: this.session });
  }
}
