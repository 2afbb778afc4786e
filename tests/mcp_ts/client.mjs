// An MCP client on the official TypeScript SDK (@modelcontextprotocol/sdk), its client auth unmodified: the app
// provides only what the SDK asks an app for (an OAuthClientProvider that keeps things in memory and hands the
// authorization URL to the user, and a loopback listener for the redirect), as a desktop MCP client does.
//
// Scenario (JSON, argv[2]): { mcpUrl, callbackPort, clientMetadataUrl?, text }.
// Prints `AUTHORIZE <url>` when the SDK sends the user to sign in (tests/interop/test_mcp_typescript.py opens it in
// Chromium; the browser then comes back to this process's /callback), and at the end one line `RESULT <json>`:
// each HTTP request the SDK made (method, URL, status, token request form), the tools' results, the tokens.
//
// The refresh: the stored access token is then replaced by one the server refuses (as it refuses an expired one),
// so the SDK's 401 handling refreshes with its refresh token before calling again.
import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const scenario = JSON.parse(process.argv[2]);
const redirectUrl = `http://127.0.0.1:${scenario.callbackPort}/callback`;
const requests = [];
const authorizationUrls = [];
const savedTokens = [];

async function logged(url, init) {
  const response = await fetch(url, init);
  const target = String(url instanceof Request ? url.url : url);
  const method = (init && init.method) || (url instanceof Request ? url.method : 'GET');
  let form = {};
  if (target.endsWith('/oauth/token') && init && init.body) {
    form = Object.fromEntries(new URLSearchParams(String(init.body)));
  }
  requests.push({ method, url: target, status: response.status, form });
  return response;
}

let code;
const codeArrived = new Promise((resolve) => { code = resolve; });
const listener = createServer((request, response) => {
  const url = new URL(request.url, redirectUrl);
  if (url.pathname === '/callback') code(Object.fromEntries(url.searchParams));
  response.writeHead(200, { 'content-type': 'text/html' });
  response.end('<!doctype html><title>Done</title><p id=done>You can close this window.</p>');
});
await new Promise((resolve) => listener.listen(scenario.callbackPort, '127.0.0.1', resolve));

const store = { client: undefined, tokens: undefined, verifier: undefined, state: undefined };
const provider = {
  get redirectUrl() { return redirectUrl; },
  clientMetadataUrl: scenario.clientMetadataUrl,
  get clientMetadata() {
    return {
      client_name: 'MCP TypeScript SDK',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() { store.state = crypto.randomUUID(); return store.state; },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; savedTokens.push(tokens); },
  redirectToAuthorization(url) {
    authorizationUrls.push(url.href);
    console.log('AUTHORIZE ' + url.href);
  },
  saveCodeVerifier(verifier) { store.verifier = verifier; },
  codeVerifier() { return store.verifier; },
};

function transport() {
  return new StreamableHTTPClientTransport(new URL(scenario.mcpUrl), { authProvider: provider, fetch: logged });
}

async function connected() {
  const client = new Client({ name: 'sekisho-mcp-ts', version: '1.0.0' });
  const first = transport();
  try {
    await client.connect(first);
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const query = await codeArrived;
  if (query.state !== store.state) throw new Error(`state differs: ${query.state}`);
  await first.finishAuth(query.code);
  const again = new Client({ name: 'sekisho-mcp-ts', version: '1.0.0' });
  await again.connect(transport());
  return again;
}

function structured(result) {
  if (result.isError) throw new Error('tool error: ' + JSON.stringify(result.content));
  return result.structuredContent;
}

const client = await connected();
const posted = structured(await client.callTool({ name: 'post_note', arguments: { text: scenario.text } }));
const listed = structured(await client.callTool({ name: 'list_notes', arguments: {} }));
await client.close();

store.tokens = { ...store.tokens, access_token: 'sek_at_expired' };
const later = new Client({ name: 'sekisho-mcp-ts', version: '1.0.0' });
await later.connect(transport());
const afterRefresh = structured(
  await later.callTool({ name: 'post_note', arguments: { text: scenario.text + ' again' } }),
);
await later.close();
listener.close();

console.log('RESULT ' + JSON.stringify({
  requests, authorizationUrls, posted, listed, afterRefresh, tokens: savedTokens, client: store.client,
}));
