// SPDX-License-Identifier: MIT
// Hostile contracts for the chain-read bounds (DESIGN.md section 12): view
// functions that burn every unit of gas they are given, as an attacker's
// gated room or contract wallet would, to make the service's reads slow.
pragma solidity ^0.8.20;

// A "token" whose balanceOf answers like an ERC-20 until armed, then loops
// until it runs out of gas: holders get in first, and the re-check meets the
// burner later, as in the attack.
contract BurnerToken {
    bool public armed;

    function arm() external {
        armed = true;
    }

    function balanceOf(address holder) external view returns (uint256) {
        if (!armed) {
            return 1;
        }
        return burn(uint256(uint160(holder)));
    }
}

// Hashes in scratch memory until the gas runs out: the node works for every
// unit of gas (memory never grows, so it is not cut short by memory costs).
function burn(uint256 seed) pure returns (uint256 word) {
    assembly {
        mstore(0, seed)
        for {} 1 {} {
            mstore(0, keccak256(0, 32))
        }
    }
}

// A contract wallet (EIP-1271) whose signature check never finishes.
contract BurnerWallet {
    function isValidSignature(bytes32 hash, bytes calldata) external pure returns (bytes4) {
        return bytes4(uint32(burn(uint256(hash))));
    }
}
