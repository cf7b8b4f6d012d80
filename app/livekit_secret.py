"""A short LIVEKIT_API_SECRET (the dev default, `secret`): said once, at start-up.

PyJWT warns (InsecureKeyLengthWarning) whenever an HS256 key under 32 bytes
signs or checks a token. With livekit-api that happens in three places: a join
token (AccessToken.to_jwt), a webhook's signature (WebhookReceiver.receive),
and the token RoomService signs for each of its calls. Each is wrapped here, not
silenced for the whole process: a global filter would hide the warning from
any other code that signs with a short key.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from jwt.warnings import InsecureKeyLengthWarning
from livekit import api
from livekit.api.egress_service import EgressService
from livekit.api.room_service import RoomService

# HS256 keys shorter than this are weak (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32


def is_short(secret: str) -> bool:
    return len(secret.encode()) < MIN_SECRET_BYTES


@contextlib.contextmanager
def short_secret_accepted(secret: str) -> Iterator[None]:
    """Sign or check with `secret` without PyJWT's warning when it is short.

    Only around synchronous code, never across an await: catch_warnings swaps
    the process-wide filter list, so tasks interleaving inside it could leave
    each other's filters behind.
    """
    if not is_short(secret):
        yield  # nothing to hide, and no filter list copied on the token path
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        yield


class QuietRoomService(RoomService):
    """livekit-api's RoomService; the token it signs for each call (in
    `_auth_header`, synchronously, before the request is sent) is signed
    without the short-key warning."""

    def _auth_header(
        self, grants: api.VideoGrants | None, sip: api.SIPGrants | None = None
    ) -> dict[str, str]:
        with short_secret_accepted(self.api_secret):
            return super()._auth_header(grants, sip)


class QuietEgressService(EgressService):
    """livekit-api's EgressService, its per-call token signed as QuietRoomService's."""

    def _auth_header(
        self, grants: api.VideoGrants | None, sip: api.SIPGrants | None = None
    ) -> dict[str, str]:
        with short_secret_accepted(self.api_secret):
            return super()._auth_header(grants, sip)
