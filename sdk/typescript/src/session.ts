import { CleaveError, SignedOutError } from "./errors.js";
import { MemoryTokenStorage, type TokenStorage, type Tokens } from "./tokens.js";

/** What the app is; sent on every request (`X-Client-Version: ios/2.4.1`) so the server can apply its
 * app-version policy and target flags. */
export interface AppInfo {
  platform: "ios" | "android" | "web";
  version: string;
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface SessionOptions {
  baseUrl: string;
  storage?: TokenStorage;
  fetch?: typeof globalThis.fetch;
  app?: AppInfo;
  retry?: Partial<RetryPolicy>;
  /** Called once when the session ends for good (revoked, refresh token reused): sign in again. */
  onSignedOut?: (reason: CleaveError) => void;
  random?: () => number;
}

export const APP_HEADER = "X-Client-Version";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Their answers hold secrets, so the server keeps no replay of them: no idempotency key.
const NO_IDEMPOTENCY = new Set([
  "/api/v1/auth/register",
  "/api/v1/auth/login",
  "/api/v1/auth/refresh",
  "/api/v1/auth/password-reset",
  "/api/v1/auth/password-reset/confirm",
]);
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
// Refresh a little before expiry (5 s, or a quarter of a short life), so a request is not
// refused in flight.
const EXPIRY_MARGIN_MS = 5_000;

export function tokensFromAnswer(answer: {
  access: string;
  refresh: string;
  expires_in: number;
  session_id?: string;
}): Tokens {
  const life = answer.expires_in * 1000;
  const now = Date.now();
  return {
    access: answer.access,
    refresh: answer.refresh,
    accessExpiresAt: now + life,
    refreshAt: now + life - Math.min(EXPIRY_MARGIN_MS, life / 4),
    sessionId: answer.session_id,
  };
}

/**
 * The signed-in session, as a `fetch`: adds the bearer token and the app header, refreshes an
 * expired token once for everyone waiting on it (single flight), retries what is safe to retry
 * with back-off and jitter, and gives every unsafe request an `Idempotency-Key` that its retries
 * reuse, so a flaky network cannot double a write.
 */
export class Session {
  readonly baseUrl: string;
  readonly storage: TokenStorage;
  /** How many refreshes this session has made (for diagnostics and tests). */
  refreshes = 0;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly app: AppInfo | undefined;
  private readonly retry: RetryPolicy;
  private readonly onSignedOut: ((reason: CleaveError) => void) | undefined;
  private readonly random: () => number;
  private refreshing: Promise<Tokens> | null = null;

  constructor(options: SessionOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.storage = options.storage ?? new MemoryTokenStorage();
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.app = options.app;
    this.retry = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000, ...options.retry };
    this.onSignedOut = options.onSignedOut;
    this.random = options.random ?? Math.random;
  }

  /** A fetch for openapi-fetch and for direct use; resolves with the final response. */
  readonly fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const path = new URL(request.url).pathname;
    const unsafe = UNSAFE.has(request.method);
    const idempotencyKey =
      request.headers.get("Idempotency-Key") ??
      (unsafe && !NO_IDEMPOTENCY.has(path) ? crypto.randomUUID() : null);
    const retryable = !unsafe || idempotencyKey !== null;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const tokens = NO_IDEMPOTENCY.has(path) ? null : await this.freshTokens();
      const sent = this.prepare(request, tokens, idempotencyKey);
      let response: Response;
      try {
        response = await this.fetchImpl(sent);
      } catch (error) {
        if (!retryable || attempt >= this.retry.attempts) throw error;
        await this.pause(attempt, null);
        continue;
      }
      if (response.status === 401 && tokens !== null) {
        const problem = await CleaveError.from(response);
        if (problem.code === "token_expired" && !refreshed) {
          refreshed = true;
          await this.refresh(tokens);
          attempt--; // a refresh is not a retry
          continue;
        }
        if (problem.code === "session_revoked") await this.signedOut(problem);
        return response;
      }
      const inProgress = response.status === 409 && (await codeOf(response)) === "idempotency_key_in_progress";
      if ((RETRY_STATUSES.has(response.status) || inProgress) && retryable && attempt < this.retry.attempts) {
        await this.pause(attempt, response.headers.get("Retry-After"));
        continue;
      }
      return response;
    }
  };

  /** The access token to use now, refreshed first if it is about to expire; null if signed out. */
  async freshTokens(): Promise<Tokens | null> {
    const tokens = await this.storage.load();
    if (tokens !== null && refreshDue(tokens)) {
      return this.refresh(tokens);
    }
    return tokens;
  }

  /** Trade `stale`'s refresh token for a new pair; concurrent callers share one refresh. */
  refresh(stale: Tokens): Promise<Tokens> {
    this.refreshing ??= this.refreshOnce(stale).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async signIn(tokens: Tokens): Promise<void> {
    await this.storage.save(tokens);
  }

  async forget(): Promise<void> {
    await this.storage.clear();
  }

  private async refreshOnce(stale: Tokens): Promise<Tokens> {
    // Another holder of this storage (a second tab, a background task) may have refreshed
    // already: presenting the spent refresh token again would sign the session out.
    const current = await this.storage.load();
    if (current !== null && current.refresh !== stale.refresh && !refreshDue(current)) {
      return current;
    }
    const response = await this.fetchImpl(
      this.prepare(
        new Request(`${this.baseUrl}/api/v1/auth/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh: stale.refresh }),
        }),
        null,
        null,
      ),
    );
    if (!response.ok) {
      const problem = await CleaveError.from(response);
      if (response.status >= 500 || response.status === 429) throw problem; // try again later
      await this.signedOut(problem);
      throw new SignedOutError(problem);
    }
    const tokens = tokensFromAnswer(await response.json());
    await this.storage.save(tokens);
    this.refreshes++;
    return tokens;
  }

  private async signedOut(reason: CleaveError): Promise<void> {
    await this.storage.clear();
    this.onSignedOut?.(reason);
  }

  private prepare(request: Request, tokens: Tokens | null, idempotencyKey: string | null): Request {
    const sent = request.clone();
    const headers = new Headers(sent.headers);
    if (tokens !== null) headers.set("Authorization", `Bearer ${tokens.access}`);
    if (idempotencyKey !== null) headers.set("Idempotency-Key", idempotencyKey);
    if (this.app !== undefined) headers.set(APP_HEADER, `${this.app.platform}/${this.app.version}`);
    return new Request(sent, { headers });
  }

  private pause(attempt: number, retryAfter: string | null): Promise<void> {
    const told = retryAfter !== null ? Number(retryAfter) * 1000 : NaN;
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const delay = Number.isFinite(told) ? Math.min(told, this.retry.maxDelayMs) : this.random() * ceiling;
    return new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function refreshDue(tokens: Tokens): boolean {
  return (tokens.refreshAt ?? tokens.accessExpiresAt - EXPIRY_MARGIN_MS) <= Date.now();
}

async function codeOf(response: Response): Promise<string | null> {
  return (await CleaveError.from(response)).code;
}
