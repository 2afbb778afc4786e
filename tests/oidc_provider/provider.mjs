// node's oidc-provider 9 on loopback, in one of two configurations: the OpenID provider tests/interop signs in to,
// and the peer bench/run measures sekisho against. Started by tests/node.py:
//
//   OIDC_CLIENTS='[{"client_id": ..., ...}]' [OIDC_PATH=/oidc] \
//     node_modules/node/bin/node provider.mjs PROFILE [PORT]
//
// PROFILE is `interop`, `peer-opaque` or `peer-jwt` (below). PORT defaults to 0 (the kernel picks a free one; no
// race between choosing a port and binding it). The issuer is http://127.0.0.1:PORT followed by OIDC_PATH (default:
// none). With a path, the provider is mounted under it the way its documentation shows for a plain node:http server,
// and everything outside the path is a 404: so the RFC 8414 path-aware URL (/.well-known/oauth-authorization-server/
// oidc) does not exist and a client has to fall back to OpenID Connect discovery ({issuer}/.well-known/openid-
// configuration), as it must with many deployed OpenID providers. Once it listens, it prints one line
// `READY <issuer>` on stdout; everything else (the library's own notes, request errors) goes to stderr. It stops on
// SIGTERM or SIGINT, or when stdin closes (the test or the harness died), so it never outlives them.
//
// Common to both, each the plainest way a real deployment would do it:
// - Clients: static, from OIDC_CLIENTS (oidc-provider's client metadata).
// - Storage: oidc-provider's built-in in-memory adapter (the default when no adapter is configured; an LRU of 1000
//   entries: nothing is written anywhere).
// - Signing keys: fresh per run, instead of the library's shared development keys.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const jwk = (algorithm, options, alg) => ({
  ...generateKeyPairSync(algorithm, options).privateKey.export({ format: 'jwk' }),
  kid: alg.toLowerCase(),
  use: 'sig',
  alg,
});

// interop (tests/interop/test_oidc_provider.py):
// - Login and consent: the built-in devInteractions pages (any login and password is accepted; the login becomes
//   the account id, so `sub` in userinfo is what the test typed).
// - PKCE: required for every client (S256 is the only method oidc-provider 9 supports).
// - Refresh tokens: oidc-provider's default policy, which is OpenID Connect Core §11: a refresh token is issued
//   only when `offline_access` was granted, and `offline_access` is kept only on a request with `prompt=consent`.
//   The test asks for both, so it also exercises sekisho.client's `extra` authorization parameters. Public clients
//   get their refresh token rotated on every use (oidc-provider's default rotateRefreshToken).
// - RFC 9207: oidc-provider always adds `iss` to a code response and says so in discovery
//   (authorization_response_iss_parameter_supported: true).
// - Revocation (RFC 7009) and userinfo: enabled (userinfo is also on by default).
// - One RSA key (ID tokens are RS256 by default).
const interop = () => ({
  jwks: { keys: [jwk('rsa', { modulusLength: 2048 }, 'RS256')] },
  scopes: ['openid', 'offline_access', 'profile'],
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: `Interop ${sub}` };
      },
    };
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: {
      enabled: true,
      // The library's default policy, written out: a client may revoke only its own tokens.
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    userinfo: { enabled: true },
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    RefreshToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  // Without this, every rejected request is only an opaque 400/401 to the test: show why on stderr.
  renderError(ctx, out, error) {
    ctx.type = 'json';
    ctx.body = out;
    console.error('render error:', error?.message ?? out);
  },
});

// peer-opaque and peer-jwt (bench/targets.py): what sekisho does in the same scenario.
// - The client (one confidential client, client_secret_basic) is allowed the client_credentials grant.
// - Features clientCredentials and introspection enabled; a client may introspect only its own tokens (sekisho's
//   rule for a client that is not a designated resource server).
// - peer-opaque: opaque access tokens (no resource indicator, so no audience). peer-jwt: every client_credentials
//   token is for one resource server (resourceIndicators with a defaultResource), issued as an RFC 9068 JWT signed
//   with ES256, as sekisho's --access-token-format jwt does.
// - A fresh RSA key (ID tokens, unused here) and a fresh P-256 key (the JWT access tokens).
// - Access tokens live 3600 s, as sekisho's do.
const SCOPE = 'read:account';
const RESOURCE = 'urn:sekisho-bench:api';

const jwtAccessTokens = {
  enabled: true,
  defaultResource: async () => RESOURCE,
  useGrantedResource: async () => true,
  getResourceServerInfo: async (_ctx, resource) => {
    if (resource !== RESOURCE) throw new Provider.errors.InvalidTarget();
    return {
      scope: SCOPE,
      audience: RESOURCE,
      accessTokenTTL: 3600,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'ES256' } },
    };
  },
};

const peer = (format) => () => ({
  jwks: { keys: [jwk('rsa', { modulusLength: 2048 }, 'RS256'), jwk('ec', { namedCurve: 'P-256' }, 'ES256')] },
  scopes: ['openid', SCOPE],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    resourceIndicators: format === 'jwt' ? jwtAccessTokens : { enabled: false },
  },
  ttl: { AccessToken: 3600, ClientCredentials: 3600 },
});

const PROFILES = { interop, 'peer-opaque': peer('opaque'), 'peer-jwt': peer('jwt') };

const profile = process.argv[2];
if (!Object.hasOwn(PROFILES, profile)) {
  throw new Error(`PROFILE must be one of ${Object.keys(PROFILES).join(', ')}, not ${JSON.stringify(profile)}`);
}
const port = Number(process.argv[3] ?? 0);
const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]');
const mountPath = (process.env.OIDC_PATH ?? '').replace(/\/+$/, '');
if (mountPath && !/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(mountPath)) {
  throw new Error(`OIDC_PATH must look like /oidc, not ${JSON.stringify(mountPath)}`);
}

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}${mountPath}`;

const provider = new Provider(issuer, {
  clients,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ...PROFILES[profile](),
});

provider.on('server_error', (_ctx, error) => console.error('server_error:', error));
for (const event of ['grant.error', 'authorization.error', 'revocation.error', 'userinfo.error', 'introspection.error']) {
  provider.on(event, (_ctx, error) => console.error(`${event}:`, error.message, error.error_description ?? ''));
}

const handle = provider.callback();
server.on('request', (req, res) => {
  if (!mountPath) {
    handle(req, res);
    return;
  }
  const { url } = req;
  if (url !== mountPath && !url.startsWith(`${mountPath}/`) && !url.startsWith(`${mountPath}?`)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  // What oidc-provider's docs say to do when mounting it on a bare node:http server: it works out its mount path
  // from req.originalUrl minus req.url.
  req.originalUrl = url;
  req.url = url.slice(mountPath.length) || '/';
  handle(req, res);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

console.log(`READY ${issuer}`);
