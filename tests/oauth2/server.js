// The OAuth2 server toolgate's tests start: oauth2-mock-server (a real token
// endpoint issuing signed JWTs) plus what the tests assert against —
// client authentication, single-use rotating refresh tokens, a chosen token
// lifetime, and a count of every token request (and every token issued)
// written to STATS_FILE. For per-user connections: the authorization code
// grant with PKCE required, each code single use and bound to the
// redirect_uri it was issued for, and an RFC 7009 revocation endpoint
// (form-encoded, client authenticated) that records what it revoked.
//
// For the console's single sign-on (OpenID Connect): a discovery document
// at /.well-known/openid-configuration naming this server as the issuer,
// its signing keys at /jwks (an RS256 and an ES256 key; a second RS256 key
// is published only once a token was signed with it, as a provider that
// rotated its keys would), and an ID token for every code whose authorize
// request carried a nonce. POST /oidc/next {claims?, alg?, kid?,
// bad_signature?, auth_methods?} sets what the next ID tokens say and how
// they are signed: `claims` are laid over the default ones (sub, the
// authorize request's nonce, aud = the client, iss, iat, exp; a claim set
// to null is left out), `alg` is RS256 or ES256, `kid: "rotated"` signs
// with the key not yet published, `bad_signature` spoils the signature,
// and `auth_methods` is the document's token_endpoint_auth_methods_supported.
//
//   PORT=0 CLIENT_ID=… CLIENT_SECRET=… [INITIAL_REFRESH_TOKEN=…] [TOKEN_TTL=…]
//   STATS_FILE=… node server.js      → prints "listening <port>"
'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');
const { OAuth2Server } = require('oauth2-mock-server');

const env = (k, d) => process.env[k] ?? d;
const ttl = Number(env('TOKEN_TTL', '3600'));
const stats = {
  requests: 0, client_credentials: 0, refresh_token: 0, authorization_code: 0, rejected: 0,
  bodies: [], issued: [], authorize: [], revoked: [],
  discovery: 0, jwks: 0, client_auth: [], id_tokens: 0,
};
// Single sign-on: the signing keys, and what the next ID tokens look like.
const oidcKeys = {
  'rs-1': { alg: 'RS256', pair: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), published: true },
  'es-1': { alg: 'ES256', pair: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), published: true },
  'rs-2': { alg: 'RS256', pair: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), published: false },
};
let next = { claims: {}, alg: 'RS256', kid: null, bad_signature: false, auth_methods: ['client_secret_basic', 'client_secret_post'] };
const b64 = (buf) => Buffer.from(buf).toString('base64url');

function signIdToken(issuer, clientId, nonce) {
  const kid = next.kid === 'rotated' ? 'rs-2' : (next.alg === 'ES256' ? 'es-1' : 'rs-1');
  const key = oidcKeys[kid];
  key.published = true;
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer, sub: 'johndoe', aud: clientId, iat: now, exp: now + 300, nonce, ...next.claims };
  for (const k of Object.keys(claims)) if (claims[k] === null) delete claims[k];
  const input = `${b64(JSON.stringify({ alg: key.alg, kid, typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  const sig = crypto.sign('sha256', Buffer.from(input), key.alg === 'ES256'
    ? { key: key.pair.privateKey, dsaEncoding: 'ieee-p1363' }
    : key.pair.privateKey);
  if (next.bad_signature) sig[0] ^= 0xff;
  stats.id_tokens += 1;
  return `${input}.${b64(sig)}`;
}
// Codes handed out by /authorize: code → the redirect_uri it was sent to
// and the nonce it was asked with.
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

let port = 0;
const issuer = () => `http://127.0.0.1:${port}`;

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
      !req.body.code_verifier || codes.get(req.body.code)?.redirect_uri !== req.body.redirect_uri)) {
      // PKCE required; a code once, at the redirect_uri it was issued for.
      codes.delete(req.body.code);
      reject(400, 'invalid_grant');
    } else {
      if (grant === 'authorization_code') {
        const asked = codes.get(req.body.code);
        codes.delete(req.body.code);
        stats.client_auth.push((req.headers.authorization || '').startsWith('Basic ') ? 'basic' : 'post');
        if (asked.nonce !== undefined) {
          response.body.id_token = signIdToken(issuer(), id, asked.nonce);
          stats.issued.push(response.body.id_token);
        }
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
    if (code) codes.set(code, { redirect_uri: q.redirect_uri, nonce: q.nonce });
    save();
  });
  save();
  // RFC 7009 revocation takes a form body, which the mock's own /revoke
  // does not read: answered here, before the mock's routes see the request.
  const app = server.service.requestHandler;
  const handle = app.handle.bind(app);
  const json = (res, value) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  app.handle = (req, res, nextHandler) => {
    if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
      stats.discovery += 1;
      save();
      json(res, {
        issuer: issuer(),
        authorization_endpoint: `${issuer()}/authorize`,
        token_endpoint: `${issuer()}/token`,
        jwks_uri: `${issuer()}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: next.auth_methods,
      });
      return;
    }
    if (req.method === 'GET' && req.url === '/jwks') {
      stats.jwks += 1;
      save();
      const keys = Object.entries(oidcKeys).filter(([, k]) => k.published).map(([kid, k]) => ({
        ...k.pair.publicKey.export({ format: 'jwk' }), kid, alg: k.alg, use: 'sig',
      }));
      json(res, { keys });
      return;
    }
    if (req.method === 'POST' && req.url === '/oidc/next') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        next = { ...next, claims: {}, alg: 'RS256', kid: null, bad_signature: false, ...JSON.parse(body) };
        json(res, {});
      });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/revoke') {
      handle(req, res, nextHandler);
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
  port = server.address().port;
  console.log(`listening ${server.address().port}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
