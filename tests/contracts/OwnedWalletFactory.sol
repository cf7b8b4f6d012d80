// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {OwnedWallet} from "./OwnedWallet.sol";

/// Deploys OwnedWallets with CREATE2, so a wallet's address is known before it
/// exists: what an EIP-6492 (counterfactual) signature needs.
contract OwnedWalletFactory {
    function deploy(address owner, bytes32 salt) external returns (address wallet) {
        wallet = address(new OwnedWallet{salt: salt}(owner));
    }

    function predict(address owner, bytes32 salt) external view returns (address) {
        bytes32 codeHash = keccak256(
            abi.encodePacked(type(OwnedWallet).creationCode, abi.encode(owner))
        );
        return address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, codeHash))))
        );
    }
}
