/** Where the SDK keeps the session's tokens: memory by default; an app plugs in its secure
 * storage (Keychain/Keystore via react-native-keychain, or the browser's storage of choice). */
export interface Tokens {
  access: string;
  refresh: string;
  /** Epoch milliseconds when the access token expires (from `expires_in`). */
  accessExpiresAt: number;
  /** Epoch milliseconds from when to refresh ahead of expiry, so no request is refused in flight. */
  refreshAt?: number;
  sessionId?: string;
}

export interface TokenStorage {
  load(): Promise<Tokens | null>;
  save(tokens: Tokens): Promise<void>;
  clear(): Promise<void>;
}

export class MemoryTokenStorage implements TokenStorage {
  private tokens: Tokens | null = null;

  async load(): Promise<Tokens | null> {
    return this.tokens;
  }

  async save(tokens: Tokens): Promise<void> {
    this.tokens = tokens;
  }

  async clear(): Promise<void> {
    this.tokens = null;
  }
}
