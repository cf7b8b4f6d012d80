// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// Checks a contract wallet's signature in a deployless eth_call (no `to`): the
// constructor runs, returns one byte (0x01 valid, 0x00 not) and nothing stays
// on chain. Modelled on EIP-6492's reference ValidateSigOffchain, reduced to
// what sign-in needs: ordinary accounts are checked off-chain by the service.
//
// - A signature ending in the EIP-6492 suffix is abi.encode(factory,
//   factoryCalldata, innerSignature) + suffix: when the wallet has no code
//   yet, the factory call deploys it (inside this call only), then EIP-1271
//   `isValidSignature(hash, innerSignature)` decides.
// - Any other signature: EIP-1271 on the wallet as it is.
//
// The service embeds this contract's creation code (app/contract_signatures.py); a test
// recompiles this file and checks the two are the same.

interface IERC1271Wallet {
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4);
}

contract Erc6492Validator {
    bytes32 private constant ERC6492_SUFFIX =
        0x6492649264926492649264926492649264926492649264926492649264926492;
    bytes4 private constant ERC1271_SUCCESS = 0x1626ba7e;

    constructor(address signer, bytes32 hash, bytes memory signature) {
        bool valid = check(signer, hash, signature);
        assembly {
            mstore(0, valid)
            return(31, 1)
        }
    }

    function check(address signer, bytes32 hash, bytes memory signature) private returns (bool) {
        bytes memory inner = signature;
        if (signature.length >= 32 && suffixOf(signature) == ERC6492_SUFFIX) {
            bytes memory wrapped = new bytes(signature.length - 32);
            for (uint256 i = 0; i < wrapped.length; i++) {
                wrapped[i] = signature[i];
            }
            address factory;
            bytes memory factoryCalldata;
            (factory, factoryCalldata, inner) = abi.decode(wrapped, (address, bytes, bytes));
            if (signer.code.length == 0) {
                (bool deployed, ) = factory.call(factoryCalldata);
                if (!deployed) {
                    return false;
                }
            }
        }
        if (signer.code.length == 0) {
            return false;
        }
        try IERC1271Wallet(signer).isValidSignature(hash, inner) returns (bytes4 magic) {
            return magic == ERC1271_SUCCESS;
        } catch {
            return false;
        }
    }

    function suffixOf(bytes memory data) private pure returns (bytes32 word) {
        uint256 length = data.length;
        assembly {
            word := mload(add(data, length))
        }
    }
}
