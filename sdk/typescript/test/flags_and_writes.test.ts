import assert from "node:assert/strict";
import { test } from "node:test";
import { recordingFetch, signedIn, type Call } from "./live.js";

test("flags: the second read sends the ETag back and gets 304, the flags kept", async () => {
  const calls: Call[] = [];
  const client = await signedIn("flags", { fetch: recordingFetch(calls) });
  const first = await client.flags();
  const second = await client.flags();
  assert.equal(first.notModified, false);
  assert.equal(second.notModified, true);
  assert.deepEqual(second.flags, first.flags);
  assert.deepEqual(
    calls.filter((c) => c.path === "/api/v1/flags").map((c) => c.status),
    [200, 304],
  );
});

test("a write whose answer is lost is retried with the same Idempotency-Key and happens once", async () => {
  const calls: Call[] = [];
  const record = recordingFetch(calls);
  let lost = 0;
  // The first answer to the create never reaches the app (the network dropped it after the
  // server had done the work); the SDK cannot know whether it happened.
  const flaky: typeof fetch = async (input, init) => {
    const response = await record(input, init);
    const request = input instanceof Request ? input : new Request(input, init);
    if (request.method === "POST" && new URL(request.url).pathname === "/api/v1/conversations" && lost++ === 0) {
      throw new TypeError("fetch failed: connection reset");
    }
    return response;
  };
  const invitee = await signedIn("invitee");
  const inviteeId = (await invitee.api.GET("/api/v1/me")).data!.id;
  const client = await signedIn("writer", { fetch: flaky, retry: { baseDelayMs: 50 } });
  const title = `Idempotent ${Date.now()}`;
  const made = await client.api.POST("/api/v1/conversations", {
    body: { kind: "group", title, members: [inviteeId] },
  });
  assert.equal(made.response.status, 201);

  const creates = calls.filter((c) => c.method === "POST" && c.path === "/api/v1/conversations");
  assert.equal(creates.length, 2);
  assert.ok(creates[0]!.idempotencyKey);
  assert.equal(creates[1]!.idempotencyKey, creates[0]!.idempotencyKey);
  const listed = await client.api.GET("/api/v1/conversations", { params: { query: { limit: 100 } } });
  assert.equal(listed.data!.items.filter((c) => c.title === title).length, 1, "one group, not two");
});
