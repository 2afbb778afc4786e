// node's oidc-provider on loopback, for tests/interop/test_oidc_provider.py.
//
// Run with the Node 22 that `npm ci` puts at node_modules/node/bin/node (oidc-provider 9 wants Node >= 22):
//
//   OIDC_CLIENTS='[{"client_id": ..., "redirect_uris": [...], ...}]' [OIDC_PATH=/oidc] \
//     node_modules/node/bin/node provider.mjs [PORT]
//
// PORT defaults to 0 (the kernel picks a free one; no race between choosing a port and binding it). The issuer is
// http://127.0.0.1:PORT followed by OIDC_PATH (default: none). With a path, the provider is mounted under it the
// way its documentation shows for a plain node:http server, and everything outside the path is a 404: so the
// RFC 8414 path-aware URL (/.well-known/oauth-authorization-server/oidc) does not exist and a client has to fall
// back to OpenID Connect discovery ({issuer}/.well-known/openid-configuration), as it must with many deployed
// OpenID providers. Once it listens, it prints one line `READY <issuer>` on stdout; everything else (the
// library's own notes, request errors) goes to stderr. It stops on SIGTERM or SIGINT, or when stdin closes (the
// test process died), so it never outlives the test.
//
// Choices, each the plainest way a real deployment would do it:
// - Clients: static, from OIDC_CLIENTS (the test registers a public client with token_endpoint_auth_method `none`
//   and a confidential one with `client_secret_basic`).
// - Storage: oidc-provider's built-in in-memory adapter (the default when no adapter is configured).
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
// - Signing keys: a fresh RSA key per run (ID tokens are RS256 by default), instead of the library's shared
//   development keys.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]');
const port = Number(process.argv[2] ?? process.env.OIDC_PORT ?? 0);
const mountPath = (process.env.OIDC_PATH ?? '').replace(/\/+$/, '');
if (mountPath && !/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(mountPath)) {
  throw new Error(`OIDC_PATH must look like /oidc, not ${JSON.stringify(mountPath)}`);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop', use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}${mountPath}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
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

provider.on('server_error', (_ctx, error) => console.error('server_error:', error));
for (const event of ['grant.error', 'authorization.error', 'revocation.error', 'userinfo.error']) {
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
