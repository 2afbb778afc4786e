// oauth4webapi against a real `sekisho serve` (tests/interop/test_oauth4webapi.py): discovery, a pushed
// authorization request (RFC 9126) with PKCE S256 and state, the authorization URL carrying only client_id and
// request_uri, then (after the test's browser consents and writes the redirect back on stdin) the code exchange
// and a refresh. The library's own checks run as they are (issuer, iss on the redirect, state, response shapes);
// the only options are RFC 8414 discovery (algorithm "oauth2") and allowInsecureRequests, for plain HTTP on 127.0.0.1.
//
// With DPOP=1, every request carries a DPoP proof (RFC 9449) of one ES256 key pair, the library's DPoP handle
// keeping the servers' nonces; a `use_dpop_nonce` refusal (isDPoPNonceError) is retried once, as the library's
// documentation shows, and counted; then the access token calls the demo API (POST API_URL) with
// protectedResourceRequest.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET (empty: a public client), REDIRECT_URI, SCOPE; DPOP, API_URL.
// Prints `AUTHORIZE <url>`, reads the redirect back, prints `RESULT <json>`.
import * as oauth from "oauth4webapi";
import { createInterface } from "node:readline";

const env = process.env;
const issuer = new URL(env.ISSUER);
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true, algorithm: "oauth2" }),
);
const client = { client_id: env.CLIENT_ID };
const auth = env.CLIENT_SECRET ? oauth.ClientSecretBasic(env.CLIENT_SECRET) : oauth.None();
const DPoP = env.DPOP ? oauth.DPoP(client, await oauth.generateKeyPair("ES256")) : undefined;
const options = { [oauth.allowInsecureRequests]: true, ...(DPoP ? { DPoP } : {}) };
const nonceRetries = [];

// A request and the processing of its response; once more on a DPoP nonce error (the handle has the nonce now).
async function withNonceRetry(step, request, process) {
  try {
    return await process(await request());
  } catch (error) {
    if (!DPoP || !oauth.isDPoPNonceError(error)) throw error;
    nonceRetries.push(step);
    return await process(await request());
  }
}

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
const pushed = await withNonceRetry(
  "par",
  () => oauth.pushedAuthorizationRequest(as, client, auth, params, options),
  (response) => oauth.processPushedAuthorizationResponse(as, client, response),
);
const url = new URL(as.authorization_endpoint);
url.searchParams.set("client_id", client.client_id);
url.searchParams.set("request_uri", pushed.request_uri);
console.log(`AUTHORIZE ${url.href}`);

const lines = createInterface({ input: process.stdin });
const back = new URL((await lines[Symbol.asyncIterator]().next()).value.trim());
lines.close();
const answer = oauth.validateAuthResponse(as, client, back, state);
const tokens = await withNonceRetry(
  "token",
  () => oauth.authorizationCodeGrantRequest(as, client, auth, answer, env.REDIRECT_URI, verifier, options),
  (response) => oauth.processAuthorizationCodeResponse(as, client, response),
);
const refreshed = await withNonceRetry(
  "refresh",
  () => oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, options),
  (response) => oauth.processRefreshTokenResponse(as, client, response),
);
let me;
if (env.API_URL) {
  const headers = new Headers({ "content-type": "application/json" });
  const called = await withNonceRetry(
    "resource",
    () => oauth.protectedResourceRequest(refreshed.access_token, "POST", new URL(env.API_URL), headers, "{}", options),
    (response) => response,
  );
  me = { status: called.status, body: await called.json() };
}
console.log(
  "RESULT " +
    JSON.stringify({
      require_par: as.require_pushed_authorization_requests === true,
      par_endpoint: as.pushed_authorization_request_endpoint,
      dpop_algs: as.dpop_signing_alg_values_supported ?? null,
      expires_in: pushed.expires_in,
      token_type: tokens.token_type,
      refreshed_token_type: refreshed.token_type,
      scope: tokens.scope,
      access_token: tokens.access_token,
      refreshed_access_token: refreshed.access_token,
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      jkt: DPoP ? await DPoP.calculateThumbprint() : null,
      nonce_retries: nonceRetries,
      me,
    }),
);
