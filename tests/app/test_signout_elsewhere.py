"""A wallet session ended on another node stops working on this one (DESIGN.md
section 6: within 5 s), even when the notice from that node was lost: each
node checks its cached sessions against the table (`drop_ended`)."""

from __future__ import annotations

import datetime as dt

from app.wallet.sessions import hash_token
from models import WalletSession
from tests.conftest import Running

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


async def test_a_session_whose_row_is_gone_is_dropped_from_memory(running: Running) -> None:
    sessions = running.services.wallet_sessions
    expires = running.services.now() + dt.timedelta(hours=1)
    async with running.app.app_context():
        kept = await sessions.start(ADDRESS, 1, expires)
        ended = await sessions.start(ADDRESS, 1, expires)
        assert await sessions.resolve(ended) is not None  # cached now
        # Another node signs it out: its row goes; this node hears nothing.
        [row] = await WalletSession.filter(token_hash=hash_token(ended))
        await row.delete()
        assert await sessions.resolve(ended) is not None  # still trusted from memory

        assert await sessions.drop_ended() == 1

        assert await sessions.resolve(ended) is None
        assert await sessions.resolve(kept) is not None
