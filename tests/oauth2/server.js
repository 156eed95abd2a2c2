// The OAuth2 server toolgate's tests start: oauth2-mock-server (a real token
// endpoint issuing signed JWTs) plus what the tests assert against —
// client authentication, single-use rotating refresh tokens, a chosen token
// lifetime, and a count of every token request (and every token issued)
// written to STATS_FILE. For per-user connections: the authorization code
// grant with PKCE required, each code single use and bound to the
// redirect_uri it was issued for, and an RFC 7009 revocation endpoint
// (form-encoded, client authenticated) that records what it revoked.
//
//   PORT=0 CLIENT_ID=… CLIENT_SECRET=… [INITIAL_REFRESH_TOKEN=…] [TOKEN_TTL=…]
//   STATS_FILE=… node server.js      → prints "listening <port>"
'use strict';
const fs = require('node:fs');
const { OAuth2Server } = require('oauth2-mock-server');

const env = (k, d) => process.env[k] ?? d;
const ttl = Number(env('TOKEN_TTL', '3600'));
const stats = {
  requests: 0, client_credentials: 0, refresh_token: 0, authorization_code: 0, rejected: 0,
  bodies: [], issued: [], authorize: [], revoked: [],
};
// Codes handed out by /authorize: code → the redirect_uri it was sent to.
const codes = new Map();
const live = new Set();
if (process.env.INITIAL_REFRESH_TOKEN) live.add(process.env.INITIAL_REFRESH_TOKEN);

function save() {
  fs.writeFileSync(env('STATS_FILE', 'stats.json') + '.tmp', JSON.stringify(stats));
  fs.renameSync(env('STATS_FILE', 'stats.json') + '.tmp', env('STATS_FILE', 'stats.json'));
}

function client(req) {
  const h = req.headers.authorization || '';
  if (h.startsWith('Basic ')) {
    const text = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const i = text.indexOf(':');
    return [decodeURIComponent(text.slice(0, i)), decodeURIComponent(text.slice(i + 1))];
  }
  return [req.body.client_id, req.body.client_secret];
}

(async () => {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  // Every token unique, as a real provider's are: without an id, two tokens
  // issued in the same second with the same claims are the same bytes.
  server.service.on('beforeTokenSigning', (token) => {
    token.payload.jti = require('node:crypto').randomUUID();
  });
  server.service.on('beforeResponse', (response, req) => {
    stats.requests += 1;
    const grant = req.body.grant_type;
    const { client_secret: _s, refresh_token: _r, code: _c, code_verifier: _v, ...visible } = req.body;
    stats.bodies.push(visible);
    const [id, secret] = client(req);
    const reject = (status, error) => {
      stats.rejected += 1;
      response.statusCode = status;
      response.body = { error };
    };
    if (id !== process.env.CLIENT_ID || secret !== process.env.CLIENT_SECRET) {
      reject(401, 'invalid_client');
    } else if (grant === 'refresh_token' && !live.delete(req.body.refresh_token)) {
      reject(400, 'invalid_grant');
    } else if (grant === 'authorization_code' && (
      !req.body.code_verifier || codes.get(req.body.code) !== req.body.redirect_uri)) {
      // PKCE required; a code once, at the redirect_uri it was issued for.
      codes.delete(req.body.code);
      reject(400, 'invalid_grant');
    } else {
      if (grant === 'authorization_code') {
        codes.delete(req.body.code);
        // What toolgate must never show: the code and the verifier.
        stats.issued.push(req.body.code, req.body.code_verifier);
      }
      stats[grant] = (stats[grant] || 0) + 1;
      response.body.expires_in = ttl;
      if (grant !== 'client_credentials') live.add(response.body.refresh_token);
      // What was issued, so the tests can look for it where it must not be.
      stats.issued.push(response.body.access_token);
      if (response.body.refresh_token) stats.issued.push(response.body.refresh_token);
    }
    save();
  });
  server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
    const q = req.query;
    stats.authorize.push({
      client_id: q.client_id, scope: q.scope, redirect_uri: q.redirect_uri,
      code_challenge_method: q.code_challenge_method, has_challenge: !!q.code_challenge,
    });
    const code = redirect.url.searchParams.get('code');
    if (code) codes.set(code, q.redirect_uri);
    save();
  });
  save();
  // RFC 7009 revocation takes a form body, which the mock's own /revoke
  // does not read: answered here, before the mock's routes see the request.
  const app = server.service.requestHandler;
  const handle = app.handle.bind(app);
  app.handle = (req, res, next) => {
    if (req.method !== 'POST' || req.url !== '/revoke') {
      handle(req, res, next);
      return;
    }
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const [id, secret] = client({ headers: req.headers, body: Object.fromEntries(form) });
      if (id !== process.env.CLIENT_ID || secret !== process.env.CLIENT_SECRET) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
        return;
      }
      const token = form.get('token');
      live.delete(token);
      stats.revoked.push({ token, hint: form.get('token_type_hint') });
      save();
      res.writeHead(200);
      res.end();
    });
  };
  await server.start(Number(env('PORT', '0')), '127.0.0.1');
  console.log(`listening ${server.address().port}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
