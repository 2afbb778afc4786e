// node's oidc-provider 9 on loopback: the peer bench/run.py measures sekisho against.
//
//   PEER_CLIENT_ID=... PEER_CLIENT_SECRET=... PEER_FORMAT=opaque|jwt \
//     node_modules/node/bin/node peer.mjs [PORT]
//
// PORT defaults to 0 (the kernel picks one). Once it listens it prints `READY <issuer>` on stdout; it stops on
// SIGTERM or SIGINT, or when stdin closes, so it never outlives the harness.
//
// The configuration mirrors what sekisho does in the same scenario, in the plainest way a deployment would:
// - one confidential client (client_secret_basic) allowed the client_credentials grant;
// - features clientCredentials and introspection enabled; a client may introspect only its own tokens
//   (sekisho's rule for a client that is not a designated resource server);
// - storage: the built-in in-memory adapter (an LRU of 1000 entries: nothing is written anywhere);
// - PEER_FORMAT=opaque: opaque access tokens (no resource indicator, so no audience);
//   PEER_FORMAT=jwt: every client_credentials token is for one resource server (resourceIndicators with a
//   defaultResource), issued as an RFC 9068 JWT signed with ES256, as sekisho's --access-token-format jwt does;
// - a fresh RSA key (ID tokens, unused here) and a fresh P-256 key (the JWT access tokens) per run;
// - access tokens live 3600 s, as sekisho's do.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 0);
const format = process.env.PEER_FORMAT ?? 'opaque';
if (!['opaque', 'jwt'].includes(format)) {
  throw new Error(`PEER_FORMAT must be opaque or jwt, not ${JSON.stringify(format)}`);
}
const clientId = process.env.PEER_CLIENT_ID;
const clientSecret = process.env.PEER_CLIENT_SECRET;
if (!clientId || !clientSecret) {
  throw new Error('PEER_CLIENT_ID and PEER_CLIENT_SECRET are required');
}
const SCOPE = 'read:account';
const RESOURCE = 'urn:sekisho-bench:api';

const jwk = (algorithm, options, alg) => ({
  ...generateKeyPairSync(algorithm, options).privateKey.export({ format: 'jwk' }),
  kid: alg.toLowerCase(),
  use: 'sig',
  alg,
});

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const resourceIndicators = format === 'jwt'
  ? {
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
  }
  : { enabled: false };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', SCOPE],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    resourceIndicators,
  },
  ttl: { AccessToken: 3600, ClientCredentials: 3600 },
});

provider.on('server_error', (_ctx, error) => console.error('server_error:', error));
provider.on('grant.error', (_ctx, error) => console.error('grant.error:', error.message, error.error_description ?? ''));
provider.on('introspection.error', (_ctx, error) => console.error('introspection.error:', error.message));

server.on('request', provider.callback());

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

console.log(`READY ${issuer}`);
