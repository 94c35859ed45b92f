// The live server the tests talk to (scripts/test-live.sh starts `make run` and seeds users).
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { CleaveClient, type DeviceIn, type SessionOptions, type TokenStorage, type WebSocketConstructor } from "../src/index.js";

export const BASE = required("CLEAVE_URL");
export const PASSWORD = required("CLEAVE_SDK_PASSWORD");
export const USERS = required("CLEAVE_SDK_USERS").split(",");
export const ACCESS_SECONDS = Number(required("CLEAVE_ACCESS_TOKEN_SECONDS"));
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test-live.sh`);
  return value;
}

let taken = 0;
/** A seeded account no other test uses. */
export function user(): string {
  const email = USERS[taken++];
  if (email === undefined) throw new Error("not enough seeded users: raise CLEAVE_SDK_USER_COUNT");
  return email;
}

export function device(name: string): DeviceIn {
  return { device_id: `sdk-${name}-${randomUUID().slice(0, 8)}`, platform: "ios", app_version: "3.2.0" };
}

export interface Call {
  method: string;
  path: string;
  status: number;
  idempotencyKey: string | null;
}

/** The platform's fetch, recording every call that reaches the network. */
export function recordingFetch(calls: Call[]): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const response = await fetch(request);
    calls.push({
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      idempotencyKey: request.headers.get("Idempotency-Key"),
    });
    return response;
  };
}

export async function signedIn(
  name: string,
  options: Partial<SessionOptions> & { storage?: TokenStorage } = {},
): Promise<CleaveClient> {
  const client = new CleaveClient({ baseUrl: BASE, app: { platform: "ios", version: "3.2.0" }, ...options });
  await client.signIn(user(), PASSWORD, device(name));
  return client;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms`);
    await sleep(25);
  }
}
