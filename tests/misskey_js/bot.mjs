// A bot written against misskey-js's documented API (api.APIClient, api.isAPIError), its origin pointed at
// sekisho's Misskey stand-in. tests/interop/test_misskey_js.py runs it: argv[2] is a JSON object {origin, token,
// publicNoteId, homeNoteId}; it prints one JSON object with what misskey-js parsed from each answer.
import * as Misskey from 'misskey-js';

const { origin, token, publicNoteId, homeNoteId } = JSON.parse(process.argv[2]);

// What the SDK made of a refusal: its APIError fields, or the exception's text if it was not one.
async function refusal(call) {
	try {
		const answer = await call();
		return { resolved: answer };
	} catch (err) {
		if (Misskey.api.isAPIError(err)) {
			return { code: err.code, id: err.id, kind: err.kind, message: err.message };
		}
		return { notAnAPIError: String(err) };
	}
}

function brief(note) {
	return { id: note.id, text: note.text, username: note.user.username, visibility: note.visibility, replyId: note.replyId, cw: note.cw };
}

const anonymous = new Misskey.api.APIClient({ origin });
const bad = new Misskey.api.APIClient({ origin, credential: 'sek_at_this-is-not-a-token' });
const bot = new Misskey.api.APIClient({ origin, credential: token });

const out = {};
out.meta = await anonymous.request('meta', { detail: true }).then((meta) => ({ name: meta.name, uri: meta.uri, miauth: meta.features.miauth }));
out.anonymousPublic = brief(await anonymous.request('notes/show', { noteId: publicNoteId }));
out.anonymousHome = brief(await anonymous.request('notes/show', { noteId: homeNoteId }));
out.anonymousI = await refusal(() => anonymous.request('i', {}));
out.badI = await refusal(() => bad.request('i', {}));
out.badShow = await refusal(() => bad.request('notes/show', { noteId: publicNoteId }));
out.badMeta = await refusal(() => bad.request('meta', {}));
out.missing = await refusal(() => anonymous.request('notes/show', { noteId: '0000000000' }));

const me = await bot.request('i', {});
out.me = { id: me.id, username: me.username, host: me.host };
const created = await bot.request('notes/create', { text: 'from misskey-js', visibility: 'home', cw: 'hello', replyId: publicNoteId });
out.created = brief(created.createdNote);
out.shown = brief(await bot.request('notes/show', { noteId: created.createdNote.id }));
out.timeline = (await bot.request('notes/timeline', { limit: 2 })).map((note) => note.text);
out.olderInTimeline = (await bot.request('notes/timeline', { limit: 10, untilId: created.createdNote.id })).map((note) => note.text);
out.localTimeline = (await anonymous.request('notes/local-timeline', { limit: 10 })).map((note) => note.text);
out.userShow = await anonymous.request('users/show', { username: me.username }).then((user) => ({ id: user.id, username: user.username }));
out.userNotes = (await anonymous.request('users/notes', { userId: me.id, withReplies: true })).map((note) => note.text);
out.deleted = await bot.request('notes/delete', { noteId: created.createdNote.id });
out.afterDelete = await refusal(() => bot.request('notes/show', { noteId: created.createdNote.id }));
out.badParam = await refusal(() => bot.request('notes/create', { text: '' }));
process.stdout.write(JSON.stringify(out) + '\n');
