// SPDX-License-Identifier: MIT
// Tokens for the gated-room tests: OpenZeppelin's standard implementations,
// with an open mint so a test can give anyone a balance.
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

contract TestToken is ERC20 {
    constructor() ERC20("Qari Test Token", "QTT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

contract TestNFT is ERC721 {
    constructor() ERC721("Qari Test NFT", "QNFT") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}

contract TestMultiToken is ERC1155 {
    constructor() ERC1155("") {}

    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
