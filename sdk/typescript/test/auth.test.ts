import assert from "node:assert/strict";
import { test } from "node:test";
import { CleaveClient, MemoryTokenStorage, type Tokens } from "../src/index.js";
import { ACCESS_SECONDS, BASE, PASSWORD, device, recordingFetch, signedIn, sleep, user, type Call } from "./live.js";

test("sign in, read the profile, sign out: the tokens are gone and the server refuses them", async () => {
  const email = user();
  const storage = new MemoryTokenStorage();
  const client = new CleaveClient({ baseUrl: BASE, storage });
  await client.signIn(email, PASSWORD, device("auth"));
  const me = await client.api.GET("/api/v1/me");
  assert.equal(me.data?.email, email);
  const access = (await storage.load())?.access;
  await client.signOut();
  assert.equal(await storage.load(), null);
  const after = await fetch(`${BASE}/api/v1/me`, { headers: { Authorization: `Bearer ${access}` } });
  assert.equal(after.status, 401);
  assert.equal(((await after.json()) as { error: { code: string } }).error.code, "session_revoked");
});

test("a wrong password is the envelope's error, with its request id", async () => {
  const client = new CleaveClient({ baseUrl: BASE });
  await assert.rejects(client.signIn(user(), "not the password", device("wrong")), (error: Error & { code?: string; requestId?: string }) => {
    assert.equal(error.code, "invalid_credentials");
    assert.ok(error.requestId, "a request id to quote");
    return true;
  });
});

test("ten concurrent calls on an expired token cause one refresh", async () => {
  const calls: Call[] = [];
  const storage = new MemoryTokenStorage();
  const client = await signedIn("race", { storage, fetch: recordingFetch(calls) });
  await sleep(ACCESS_SECONDS * 1000 + 1200); // the access token is now expired on the server
  // The app believes its token is still good (a clock off, a token read before sleep): each
  // call learns otherwise from a 401 `token_expired`.
  const stale = (await storage.load()) as Tokens;
  await storage.save({ ...stale, accessExpiresAt: Date.now() + 3_600_000, refreshAt: Date.now() + 3_600_000 });
  const answers = await Promise.all(Array.from({ length: 10 }, () => client.api.GET("/api/v1/me")));
  assert.deepEqual(answers.map((a) => a.response.status), Array(10).fill(200));
  assert.equal(calls.filter((c) => c.path === "/api/v1/auth/refresh").length, 1);
  assert.equal(client.session.refreshes, 1);
  assert.ok(calls.some((c) => c.path === "/api/v1/me" && c.status === 401), "the server did say expired");
});

test("a second client on the same storage uses the pair the first refreshed, not the spent one", async () => {
  const calls: Call[] = [];
  const storage = new MemoryTokenStorage();
  const first = await signedIn("tab-1", { storage, fetch: recordingFetch(calls) });
  await sleep(ACCESS_SECONDS * 1000 + 1200);
  const stale = (await storage.load()) as Tokens;
  assert.equal((await first.api.GET("/api/v1/me")).response.status, 200); // refreshes
  // The second tab read the tokens before the first refreshed: it holds the spent pair.
  let served = false;
  const staleOnce = {
    load: async () => (served ? storage.load() : ((served = true), stale)),
    save: (tokens: Tokens) => storage.save(tokens),
    clear: () => storage.clear(),
  };
  const second = new CleaveClient({ baseUrl: BASE, storage: staleOnce, fetch: recordingFetch(calls) });
  assert.equal((await second.api.GET("/api/v1/me")).response.status, 200);
  assert.equal(calls.filter((c) => c.path === "/api/v1/auth/refresh").length, 1, "no reuse of the spent token");
  assert.equal((await first.api.GET("/api/v1/me")).response.status, 200, "the session is still signed in");
});
