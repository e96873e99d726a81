// The benchmark's baseline peer: a minimal Node.js SSE broadcaster, written by us.
//
// What the original design ran on (NestJS's @Sse + an RxJS Map<userId, Set<Subject>>),
// boiled down to node's http module and a Map<user, Set<res>>, on the same URL paths as
// the app so the same harness drives both:
//
//   GET  /notifications/stream        Bearer token (or ?token=) -> the user's stream
//   POST /api/posts                   {title, body} -> post.created to everyone but the author
//   POST /api/posts/:id/comments      {content} -> comment.created to the post's author only
//   GET  /ping, GET /system/status
//
// The JWT is decoded without verifying it (this peer measures fan-out, not auth). No
// database: posts live in a Map. One event is encoded once and the same Buffer written to
// every subscriber. One interval writes the keep-alive comment to every stream.
//
//   node bench/peers/node_sse.js --port 8787 [--heartbeat 15]
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const PORT = Number(arg('port', process.env.PORT || 8787));
const HOST = arg('host', '127.0.0.1');
const HEARTBEAT_MS = Number(arg('heartbeat', 15)) * 1000;
const KEEP_ALIVE = Buffer.from(': keep-alive\n\n');
const RETRY = Buffer.from('retry: 5000\n\n');
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

const subscribers = new Map(); // user id (string) -> Set<ServerResponse>
const posts = new Map(); // post id -> author id (string)
let seq = 0;
let nextPostId = 1;
let nextCommentId = 1;
let streams = 0;
const published = {};

function userOf(req) {
  let token = null;
  const header = req.headers.authorization || '';
  const m = /^Bearer\s+(\S+)/i.exec(header);
  if (m) token = m[1];
  else {
    const q = req.url.indexOf('?');
    if (q >= 0) token = new URLSearchParams(req.url.slice(q + 1)).get('token');
  }
  if (!token) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims.sub == null ? null : String(claims.sub);
  } catch {
    return null;
  }
}

function nickname(userId) {
  return `user${userId}`;
}

function json(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function readJson(req, done) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      done(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
    } catch {
      done(null);
    }
  });
}

function frame(event) {
  seq += 1;
  published[event.type] = (published[event.type] || 0) + 1;
  return Buffer.from(`id: ${seq}\ndata: ${JSON.stringify(event)}\n\n`);
}

function event(type, title, message, href, authorId) {
  return {
    id: crypto.randomUUID(),
    type,
    title,
    message,
    href,
    createdAt: new Date().toISOString(),
    author: { id: authorId, nickname: nickname(authorId) },
  };
}

function broadcast(buf, exceptUser) {
  let n = 0;
  for (const [user, set] of subscribers) {
    if (user === exceptUser) continue;
    for (const res of set) {
      res.write(buf);
      n += 1;
    }
  }
  return n;
}

function notifyUser(user, buf) {
  const set = subscribers.get(user);
  if (!set) return 0;
  for (const res of set) res.write(buf);
  return set.size;
}

function stream(req, res) {
  const user = userOf(req);
  if (user === null) return json(res, 401, { detail: 'Not authenticated' });
  res.writeHead(200, SSE_HEADERS);
  res.write(RETRY);
  let set = subscribers.get(user);
  if (!set) subscribers.set(user, (set = new Set()));
  set.add(res);
  streams += 1;
  res.on('close', () => {
    streams -= 1;
    const s = subscribers.get(user);
    if (!s) return;
    s.delete(res);
    if (s.size === 0) subscribers.delete(user);
  });
}

function createPost(req, res) {
  const user = userOf(req);
  if (user === null) return json(res, 401, { detail: 'Not authenticated' });
  readJson(req, (body) => {
    if (!body || typeof body.title !== 'string') return json(res, 422, { detail: 'title required' });
    const id = nextPostId++;
    posts.set(id, user);
    const createdAt = new Date().toISOString();
    json(res, 201, {
      id, title: body.title, body: body.body || '', author: { id: Number(user), nickname: nickname(user) },
      createdAt, commentCount: 0,
    });
    const ev = event('post.created', '새 게시글', `${nickname(user)}님이 "${body.title}" 글을 작성했어요.`, `/posts/${id}`, user);
    broadcast(frame(ev), user);
  });
}

function createComment(req, res, postId) {
  const user = userOf(req);
  if (user === null) return json(res, 401, { detail: 'Not authenticated' });
  readJson(req, (body) => {
    if (!body || typeof body.content !== 'string') return json(res, 422, { detail: 'content required' });
    const postAuthor = posts.get(postId);
    if (postAuthor === undefined) return json(res, 404, { detail: `Post ${postId} not found` });
    const id = nextCommentId++;
    json(res, 201, { id, content: body.content, author: { id: Number(user), nickname: nickname(user) }, createdAt: new Date().toISOString() });
    if (postAuthor === user) return;
    const ev = event('comment.created', '새 댓글', `${nickname(user)}님: ${body.content.slice(0, 50)}`, `/posts/${postId}#comment-${id}`, user);
    notifyUser(postAuthor, frame(ev));
  });
}

const COMMENTS = /^\/api\/posts\/(\d+)\/comments$/;

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method === 'GET' && path === '/notifications/stream') return stream(req, res);
  if (req.method === 'POST' && path === '/api/posts') return createPost(req, res);
  if (req.method === 'POST') {
    const m = COMMENTS.exec(path);
    if (m) return createComment(req, res, Number(m[1]));
  }
  if (req.method === 'GET' && path === '/ping') return json(res, 200, 'pong');
  if (req.method === 'GET' && path === '/system/status') {
    return json(res, 200, { streams, users: subscribers.size, eventsPublished: published });
  }
  return json(res, 404, { detail: 'Not Found' });
});

setInterval(() => {
  for (const set of subscribers.values()) for (const res of set) res.write(KEEP_ALIVE);
}, HEARTBEAT_MS).unref();

server.listen({ port: PORT, host: HOST, backlog: 4096 }, () => {
  console.log(`node-sse listening on http://${HOST}:${PORT}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
