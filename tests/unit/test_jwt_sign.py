"""jwt_access.sign is joserfc's `jws` serialization of RFC 9068's header (`typ`, `alg`, `kid`) and the claims:
part for part what joserfc's `jwt.encode` makes of them, and it verifies with joserfc. (That a token signed with
another key fails is tests/resource/test_jwt.py's test_a_key_reusing_a_known_kid_fails_the_signature.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.errors import UnsupportedKeyOperationError
from joserfc.jwk import ECKey

from sekisho.protocol import jwt_access
from sekisho.protocol.jwt_access import AccessClaims

KEY = jwt_access.new_signing_key()
OTHER = jwt_access.new_signing_key("k2")
CLAIMS = AccessClaims("https://as.example", "bot", "https://as.example", "bot", "read", 1, 2, "jti")

texts = st.text(min_size=1, max_size=40)  # any Unicode, quotes and backslashes included
times = st.integers(min_value=0, max_value=2**53)
claims = st.builds(AccessClaims, texts, texts, texts, texts, st.text(max_size=60), times, times, texts)


@given(claims, st.sampled_from([KEY, OTHER]))
def test_sign_is_what_joserfc_encodes_and_verifies_with_joserfc(claimed: AccessClaims, key: ECKey) -> None:
    token = jwt_access.sign(claimed, key)
    header = {"alg": jwt_access.ALGORITHM, "typ": jwt_access.TYPE, "kid": key.kid}
    theirs = jwt.encode(header, claimed.as_dict(), key, algorithms=[jwt_access.ALGORITHM])
    assert token.split(".")[:2] == theirs.split(".")[:2]  # ECDSA signatures differ from one signing to the next
    decoded = jwt.decode(token, key, algorithms=[jwt_access.ALGORITHM])
    assert decoded.header == header
    assert decoded.claims == claimed.as_dict()


def test_a_key_that_may_not_sign_is_refused() -> None:
    verify_only = ECKey.import_key(KEY.as_dict(private=True) | {"key_ops": ["verify"]})
    with pytest.raises(UnsupportedKeyOperationError):
        jwt_access.sign(CLAIMS, verify_only)
