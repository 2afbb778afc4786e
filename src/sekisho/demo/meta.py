"""Misskey's `POST /api/meta` (endpoints/meta.ts, `requireCredential: false`): what the server is and what it
offers, the fields Misskey's SDKs and apps read. Misskey.py's `Misskey(address, i=…)` calls it to check the server
and, with a token, the token; sekisho's own client calls it to tell a Misskey API apart (client/miauth.py)."""

from __future__ import annotations

from typing import Any

MISSKEY_VERSION = "2025.4.0"  # the Misskey release whose API this stand-in follows
MAX_NOTE_TEXT_LENGTH = 3000  # Misskey's MAX_NOTE_TEXT_LENGTH (packages/backend/src/const.ts)


def meta(uri: str, *, detail: bool) -> dict[str, Any]:
    """MetaLite (`detail: false`) or MetaDetailed (the default): packages/misskey-js/src/autogen/models.ts."""
    lite: dict[str, Any] = {
        "maintainerName": None,
        "maintainerEmail": None,
        "version": f"{MISSKEY_VERSION}-sekisho",
        "name": "sekisho",
        "shortName": None,
        "uri": uri,
        "description": "sekisho's stand-in for a Misskey server (sekisho serve --demo-api)",
        "langs": [],
        "tosUrl": None,
        "repositoryUrl": None,
        "feedbackUrl": None,
        "disableRegistration": True,
        "emailRequiredForSignup": False,
        "enableHcaptcha": False,
        "enableRecaptcha": False,
        "enableTurnstile": False,
        "maxNoteTextLength": MAX_NOTE_TEXT_LENGTH,
        "iconUrl": None,
        "bannerUrl": None,
        "defaultDarkTheme": None,
        "defaultLightTheme": None,
        "disableLocalTimeline": False,
        "disableGlobalTimeline": True,
        "enableEmail": False,
        "enableServiceWorker": False,
        "translatorAvailable": False,
        "policies": {"ltlAvailable": True, "gtlAvailable": False},
        "ads": [],
    }
    if not detail:
        return lite
    features = {
        "registration": False,
        "emailRequiredForSignup": False,
        "localTimeline": True,
        "globalTimeline": False,
        "hcaptcha": False,
        "recaptcha": False,
        "turnstile": False,
        "objectStorage": False,
        "serviceWorker": False,
        "miauth": True,
    }
    return {**lite, "cacheRemoteFiles": False, "cacheRemoteSensitiveFiles": False, "features": features}
