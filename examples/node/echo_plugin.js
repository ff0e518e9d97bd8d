#!/usr/bin/env node
// A pluginrt plugin in Node.js with only the standard library, written from PROTOCOL.md:
// JSON-RPC 2.0, one message per line, requests on stdin, answers on stdout, logs on stderr.
// It is an echo executor ("node-echo") with one static model, a stream that honours credit,
// $/ping, plugin.shutdown, and exits when stdin ends.
"use strict";
const readline = require("node:readline");

const CAPABILITIES = {
  Executor: { identifier: "node-echo" },
  ExecutorModelScope: "static",
  ExecutorInputFormats: ["openai"],
  ExecutorOutputFormats: ["openai"],
  ModelProvider: {},
};
const METADATA = {
  Name: "node-echo",
  Version: "1.0.0",
  Author: "pluginrt",
  GitHubRepository: "https://github.com/pluginrt/pluginrt",
};
const streams = new Map(); // stream_id -> { credit, chunks: [Buffer], cancelled }

const line = (message) => JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n";
const send = (message, done) => process.stdout.write(line(message), done);
const log = (text) => process.stderr.write(`node-echo: ${text}\n`);
const b64 = (buffer) => Buffer.from(buffer).toString("base64");
// []byte is standard base64 on the wire; a missing or null value is empty.
const bytes = (text) => Buffer.from(text || "", "base64");

const methods = {
  "plugin.register": (params) => {
    if (params.protocol_version !== 1) log(`host speaks protocol ${params.protocol_version}`);
    return { protocol_version: 1, metadata: METADATA, capabilities: CAPABILITIES };
  },
  "plugin.reconfigure": () => ({}),
  "plugin.shutdown": () => ({}),
  "$/ping": () => ({}),
  "model.static": () => ({
    Provider: "node-echo",
    Models: [{ ID: "node-echo-1", Object: "model", OwnedBy: "node-echo", DisplayName: "Echo" }],
  }),
  "executor.execute": (params) => ({
    Payload: b64(bytes(params.Payload)),
    Headers: { "Content-Type": ["application/json"], "X-Echo-Model": [params.Model || ""] },
  }),
  "executor.execute_stream": (params) => {
    const payload = bytes(params.Payload);
    const third = Math.ceil(payload.length / 3) || 1;
    const chunks = [];
    for (let at = 0; at < payload.length; at += third) {
      chunks.push(payload.subarray(at, at + third));
    }
    streams.set(params.stream_id, { credit: params.window || 0, chunks, cancelled: false });
    setImmediate(() => pump(params.stream_id)); // after the headers are written
    return { Headers: { "Content-Type": ["application/octet-stream"] } };
  },
};

// Send what the credit allows; stream.end once every chunk is out (or the host cancelled).
function pump(streamId) {
  const stream = streams.get(streamId);
  if (!stream) return;
  while (!stream.cancelled && stream.credit > 0 && stream.chunks.length > 0) {
    stream.credit -= 1;
    const payload = b64(stream.chunks.shift());
    send({ method: "stream.chunk", params: { stream_id: streamId, payload } });
  }
  if (stream.cancelled || stream.chunks.length === 0) {
    streams.delete(streamId);
    send({ method: "stream.end", params: { stream_id: streamId, error: null } });
  }
}

const notifications = {
  "stream.credit": (params) => {
    const stream = streams.get(params.stream_id);
    if (stream) { stream.credit += params.chunks; pump(params.stream_id); }
  },
  "stream.cancel": (params) => {
    const stream = streams.get(params.stream_id);
    if (stream) { stream.cancelled = true; pump(params.stream_id); }
  },
  "$/cancel": () => {}, // every call is answered at once: nothing in flight to cancel
};

// One message in, its response out (null for notifications and responses).
function handle(message) {
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    return { id: null, error: { code: -32600, message: "invalid request" } };
  }
  const isRequest = "id" in message && typeof message.method === "string";
  if (!isRequest) {
    if (typeof message.method === "string") notifications[message.method]?.(message.params || {});
    return null; // a notification, or a response to a call we never make
  }
  const method = methods[message.method];
  if (!method) {
    return { id: message.id, error: { code: -32601, message: `unknown method ${message.method}` } };
  }
  try {
    return { id: message.id, result: method(message.params || {}) };
  } catch (error) {
    return { id: message.id, error: { code: -32603, message: String(error.message) } };
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (text) => {
  if (!text.trim()) return;
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    send({ id: null, error: { code: -32700, message: "parse error" } });
    return;
  }
  if (Array.isArray(message)) { // a batch: answered with an array of the responses, if any
    const answers = message.map(handle).filter((answer) => answer !== null);
    if (message.length === 0) send({ id: null, error: { code: -32600, message: "empty batch" } });
    else if (answers.length > 0) {
      process.stdout.write(JSON.stringify(answers.map((a) => ({ jsonrpc: "2.0", ...a }))) + "\n");
    }
    return;
  }
  const answer = handle(message);
  if (answer === null) return;
  if (message.method === "plugin.shutdown") send(answer, () => process.exit(0));
  else send(answer);
});
lines.on("close", () => process.exit(0)); // stdin ended: the host is gone
