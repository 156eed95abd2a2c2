// The OAuth2 server toolgate's tests start: oauth2-mock-server (a real token
// endpoint issuing signed JWTs) plus what the tests assert against —
// client authentication, single-use rotating refresh tokens, a chosen token
// lifetime, and a count of every token request (and every token issued)
// written to STATS_FILE.
//
//   PORT=0 CLIENT_ID=… CLIENT_SECRET=… [INITIAL_REFRESH_TOKEN=…] [TOKEN_TTL=…]
//   STATS_FILE=… node server.js      → prints "listening <port>"
'use strict';
const fs = require('node:fs');
const { OAuth2Server } = require('oauth2-mock-server');

const env = (k, d) => process.env[k] ?? d;
const ttl = Number(env('TOKEN_TTL', '3600'));
const stats = { requests: 0, client_credentials: 0, refresh_token: 0, rejected: 0, bodies: [], issued: [] };
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
    const { client_secret: _s, refresh_token: _r, ...visible } = req.body;
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
    } else {
      stats[grant] = (stats[grant] || 0) + 1;
      response.body.expires_in = ttl;
      if (grant === 'refresh_token') live.add(response.body.refresh_token);
      // What was issued, so the tests can look for it where it must not be.
      stats.issued.push(response.body.access_token);
      if (response.body.refresh_token) stats.issued.push(response.body.refresh_token);
    }
    save();
  });
  save();
  await server.start(Number(env('PORT', '0')), '127.0.0.1');
  console.log(`listening ${server.address().port}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
