"""The rules a room's access settings must keep: one set, for the create schema
and for the room actor (which checks a PATCH merged with the current configuration)."""

from __future__ import annotations

from models.rooms import MAX_UINT256, AccessType, NftStandard


def access_rule_violation(
    access_type: AccessType | str,
    token_address: str | None,
    token_amount: str | None,
    nft_address: str | None,
    nft_standard: NftStandard | str = NftStandard.ERC721,
    nft_token_id: str | None = None,
) -> tuple[str, str] | None:
    """The (field, message) a room's access settings break, if any.

    Shared by the create schema and the room actor (which checks a PATCH merged
    with the current configuration), so both enforce one rule set.
    """
    if token_amount is not None and int(token_amount) > MAX_UINT256:
        return "token_amount", "token_amount does not fit in a uint256"
    if nft_token_id is not None and int(nft_token_id) > MAX_UINT256:
        return "nft_token_id", "nft_token_id does not fit in a uint256"
    if access_type == AccessType.TOKEN:
        if not token_address:
            return "token_address", "a token room needs token_address"
        if not token_amount or int(token_amount) <= 0:
            return "token_amount", "a token room needs a positive token_amount"
    if access_type == AccessType.NFT:
        if not nft_address:
            return "nft_address", "an nft room needs nft_address"
        if nft_standard == NftStandard.ERC1155 and nft_token_id is None:
            # An ERC-1155 contract holds many tokens: balanceOf needs an id.
            return "nft_token_id", "an erc1155 room needs nft_token_id"
    return None
