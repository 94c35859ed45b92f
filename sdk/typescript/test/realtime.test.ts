import assert from "node:assert/strict";
import { test } from "node:test";
import type { StreamEvent } from "../src/index.js";
import { NodeWebSocket, eventually, signedIn } from "./live.js";

interface Sent {
  id: number;
  seq: number;
  text: string;
}

test("a chat with a reconnect in the middle: nothing lost, nothing twice, the queued send goes once", async () => {
  const alice = await signedIn("alice");
  const bob = await signedIn("bob");
  const bobId = (await bob.api.GET("/api/v1/me")).data!.id;
  const received: StreamEvent[] = [];
  const states: string[] = [];
  // A reconnect 3 s after the drop: long enough for Alice's messages to land in the gap.
  const socket = bob.socket({
    WebSocket: NodeWebSocket,
    onEvent: (event) => received.push(event),
    onStateChange: (state) => states.push(state),
    backoff: { baseMs: 3_000, maxMs: 3_000 },
    random: () => 1,
  });
  await socket.connect();

  const created = await alice.api.POST("/api/v1/conversations", { body: { kind: "direct", members: [bobId] } });
  const conversationId = created.data!.id;
  const stream = `conv:${conversationId}`;
  const send = async (text: string) =>
    alice.api.POST("/api/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: conversationId } },
      body: { text, client_msg_id: `alice-${text}` },
    });
  const messagesOn = () =>
    received.filter((e) => e.stream === stream && e.event === "message.sent").map((e) => e.data as Sent);

  for (const n of [1, 2, 3, 4, 5]) await send(`before ${n}`);
  await eventually(() => messagesOn().length === 5);

  socket.drop();
  const queued = socket.sendMessage(conversationId, "sent while offline", "bob-offline-1");
  for (const n of [1, 2, 3, 4, 5]) await send(`during ${n}`);
  assert.equal(socket.state, "reconnecting", "the messages went out while Bob was away");

  const ack = await queued;
  assert.equal(ack.created, true);
  await eventually(() => messagesOn().length >= 11);
  await new Promise((resolve) => setTimeout(resolve, 500)); // would a duplicate still arrive?

  const texts = messagesOn().map((m) => m.text);
  assert.deepEqual(texts.filter((t) => t !== "sent while offline"), [
    ...[1, 2, 3, 4, 5].map((n) => `before ${n}`),
    ...[1, 2, 3, 4, 5].map((n) => `during ${n}`),
  ]);
  const seqs = received.filter((e) => e.stream === stream).map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in order");
  assert.equal(new Set(seqs).size, seqs.length, "none twice");
  assert.equal(texts.filter((t) => t === "sent while offline").length, 1);

  const listed = await alice.api.GET("/api/v1/conversations/{conversation_id}/messages", {
    params: { path: { conversation_id: conversationId }, query: { limit: 100 } },
  });
  assert.equal(listed.data!.items.filter((m) => m.text === "sent while offline").length, 1, "stored once");
  assert.ok(states.includes("reconnecting"));
  assert.equal(socket.state as string, "ready");
  socket.close();
});
