"""Reading a JSON-RPC answer from an endpoint that is not trusted.

The endpoint is not trusted (DESIGN.md section 12): an answer is read up to
MAX_ANSWER_BYTES, and one that is bigger, does not parse, or answers another
id is no answer (`ChainBadResponseError`), never an unexpected exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from app.chain.rpc_errors import ChainBadResponseError, ChainRPCError, rpc_error

# An answer to the reads here is a few hundred bytes; past this it is refused
# unread, so a hostile endpoint cannot make the service read and parse megabytes.
MAX_ANSWER_BYTES = 1 << 20
_READ_CHUNK = 64 * 1024


async def read_bounded(chain_id: int, response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, or ChainBadResponseError once it passes MAX_ANSWER_BYTES."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise ChainBadResponseError(chain_id, f"the RPC answer is over {MAX_ANSWER_BYTES} bytes")
    raw = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        raw += chunk
        if len(raw) > MAX_ANSWER_BYTES:
            raise ChainBadResponseError(
                chain_id, f"the RPC answer is over {MAX_ANSWER_BYTES} bytes"
            )
    return bytes(raw)


def _is_id(value: Any) -> bool:
    # JSON-RPC ids here are the ints we sent; `true` would equal 1 in Python.
    return type(value) is int


def single_result(chain_id: int, request_id: int, answer: Any) -> Any:
    """The `result` of a single call's answer, or why there is none."""
    if not isinstance(answer, dict):
        raise ChainBadResponseError(chain_id, "expected a JSON-RPC response object")
    answered = answer.get("id")
    if not _is_id(answered) or answered != request_id:
        raise ChainBadResponseError(chain_id, "the RPC answered another request's id")
    if answer.get("error") is not None:
        raise rpc_error(chain_id, answer["error"])
    if "result" not in answer:
        raise ChainBadResponseError(chain_id, "a JSON-RPC response without a result")
    return answer["result"]


def batch_results(chain_id: int, ids: Sequence[int], answer: Any) -> list[Any | ChainRPCError]:
    """Each asked id's result or error object, in the order asked; or why there are none."""
    if isinstance(answer, dict) and "error" in answer:
        # A node that refuses batches answers with one error for all of them.
        raise rpc_error(chain_id, answer["error"])
    if not isinstance(answer, list):
        raise ChainBadResponseError(chain_id, "expected a JSON-RPC batch response")
    by_id: dict[int, dict[str, Any]] = {}
    for item in answer:
        # Items that are no object or carry an id we never sent answer nothing asked.
        if isinstance(item, dict) and _is_id(item.get("id")):
            by_id[item["id"]] = item
    results: list[Any | ChainRPCError] = []
    for request_id in ids:
        item = by_id.get(request_id)
        if item is None:
            raise ChainBadResponseError(chain_id, "a batch response is missing an answer")
        if item.get("error") is not None:
            results.append(rpc_error(chain_id, item["error"]))
        elif "result" in item:
            results.append(item["result"])
        else:
            raise ChainBadResponseError(chain_id, "a batch answer without a result")
    return results


def hex_bytes(chain_id: int, value: Any) -> bytes:
    """A result that must be hex data (`0x...`), as bytes."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainBadResponseError(chain_id, "expected hex data in the result")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as error:
        raise ChainBadResponseError(chain_id, "malformed hex data in the result") from error
