// oauth4webapi against a real `sekisho serve` (tests/interop/test_oauth4webapi.py): discovery, a pushed
// authorization request (RFC 9126) with PKCE S256 and state, the authorization URL carrying only client_id and
// request_uri, then (after the test's browser consents and writes the redirect back on stdin) the code exchange
// and a refresh. The library's own checks run as they are (issuer, iss on the redirect, state, response shapes);
// the only options are RFC 8414 discovery (algorithm "oauth2") and allowInsecureRequests, for plain HTTP on 127.0.0.1.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET (empty: a public client), REDIRECT_URI, SCOPE.
// Prints `AUTHORIZE <url>`, reads the redirect back, prints `RESULT <json>`.
import * as oauth from "oauth4webapi";
import { createInterface } from "node:readline";

const env = process.env;
const options = { [oauth.allowInsecureRequests]: true };
const issuer = new URL(env.ISSUER);
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: "oauth2" }));
const client = { client_id: env.CLIENT_ID };
const auth = env.CLIENT_SECRET ? oauth.ClientSecretBasic(env.CLIENT_SECRET) : oauth.None();

const verifier = oauth.generateRandomCodeVerifier();
const state = oauth.generateRandomState();
const params = new URLSearchParams({
  response_type: "code",
  redirect_uri: env.REDIRECT_URI,
  scope: env.SCOPE,
  state,
  code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
});
const pushed = await oauth.processPushedAuthorizationResponse(
  as,
  client,
  await oauth.pushedAuthorizationRequest(as, client, auth, params, options),
);
const url = new URL(as.authorization_endpoint);
url.searchParams.set("client_id", client.client_id);
url.searchParams.set("request_uri", pushed.request_uri);
console.log(`AUTHORIZE ${url.href}`);

const lines = createInterface({ input: process.stdin });
const back = new URL((await lines[Symbol.asyncIterator]().next()).value.trim());
lines.close();
const answer = oauth.validateAuthResponse(as, client, back, state);
const tokens = await oauth.processAuthorizationCodeResponse(
  as,
  client,
  await oauth.authorizationCodeGrantRequest(as, client, auth, answer, env.REDIRECT_URI, verifier, options),
);
const refreshed = await oauth.processRefreshTokenResponse(
  as,
  client,
  await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, options),
);
console.log(
  "RESULT " +
    JSON.stringify({
      require_par: as.require_pushed_authorization_requests === true,
      par_endpoint: as.pushed_authorization_request_endpoint,
      expires_in: pushed.expires_in,
      token_type: tokens.token_type,
      scope: tokens.scope,
      access_token: tokens.access_token,
      refreshed_access_token: refreshed.access_token,
      rotated: refreshed.refresh_token !== tokens.refresh_token,
    }),
);
