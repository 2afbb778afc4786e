// A bot written against twitter-api-v2's documented API, pointed at sekisho's X stand-in (issue 23).
//
// twitter-api-v2 hard-codes https://x.com and https://api.x.com; its documented plugin hook
// `onBeforeRequestConfig` may change a request before it is made, so one plugin sends every API call to the
// stand-in (STAND_IN), and the authorization link's origin is swapped the same way; `httpAgent` lets it speak
// plain HTTP to a loopback stand-in. Nothing else is changed.
//
// Prints the authorization URL as `AUTHORIZE <url>`, reads the callback URL (after consent) from stdin, then runs
// login → refresh → me → tweet → singleTweet → userTimeline → deleteTweet → a bad token, and prints one line
// `RESULT <json>` of what the library parsed.
import { Agent } from 'node:http';
import { createInterface } from 'node:readline';
import { ApiResponseError, TwitterApi } from 'twitter-api-v2';

const { STAND_IN, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;

const standIn = {
  onBeforeRequestConfig({ params }) {
    params.url = params.url.replace(/^https:\/\/api\.x\.com/, STAND_IN);
  },
};
// The stand-in speaks plain HTTP on loopback: the documented `httpAgent` setting takes an http.Agent.
const settings = { plugins: [standIn], httpAgent: new Agent() };

async function callbackUrl() {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  throw new Error('no callback URL on stdin');
}

const app = new TwitterApi({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET || undefined }, settings);
const scope = ['tweet.read', 'tweet.write', 'users.read', 'offline.access'];
const link = app.generateOAuth2AuthLink(REDIRECT_URI, { scope });
console.log('AUTHORIZE ' + link.url.replace('https://x.com', STAND_IN));

const callback = new URL(await callbackUrl());
if (callback.searchParams.get('state') !== link.state) throw new Error('state differs');
const login = await app.loginWithOAuth2({
  code: callback.searchParams.get('code'),
  codeVerifier: link.codeVerifier,
  redirectUri: REDIRECT_URI,
});
const refreshed = await app.refreshOAuth2Token(login.refreshToken);
const user = new TwitterApi(refreshed.accessToken, settings);

const me = await user.v2.me({ 'user.fields': ['created_at'] });
const posted = await user.v2.tweet('hello from twitter-api-v2');
const reply = await user.v2.reply('a reply', posted.data.id);
const shown = await user.v2.singleTweet(posted.data.id, { 'tweet.fields': ['author_id', 'created_at'] });
const timeline = await user.v2.userTimeline(me.data.id, { max_results: 5 });
const deleted = await user.v2.deleteTweet(reply.data.id);
const gone = await user.v2.singleTweet(reply.data.id);
const full = await user.v2.get('users/me', undefined, { fullResponse: true });

let badToken = null;
try {
  await new TwitterApi('sek_at_not-a-token', settings).v2.me();
} catch (error) {
  if (!(error instanceof ApiResponseError)) throw error;
  badToken = { code: error.code, title: error.data.title };
}
const revoked = await app.revokeOAuth2Token(refreshed.accessToken, 'access_token');

console.log('RESULT ' + JSON.stringify({
  login: { expiresIn: login.expiresIn, scope: login.scope, hasRefresh: Boolean(login.refreshToken) },
  refreshed: { expiresIn: refreshed.expiresIn, newRefresh: refreshed.refreshToken !== login.refreshToken },
  me: me.data,
  posted: posted.data,
  reply: reply.data,
  shown: shown.data,
  timeline: { texts: timeline.tweets.map((tweet) => tweet.text), count: timeline.meta.result_count },
  deleted: deleted.data,
  gone: gone.errors,
  badToken,
  revoked,
  rateLimit: full.rateLimit,
}));
