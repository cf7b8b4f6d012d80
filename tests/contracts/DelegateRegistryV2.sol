// SPDX-License-Identifier: CC0-1.0
// delegate.xyz v2's DelegateRegistry, its published source unchanged under
// delegate_registry/ (github.com/delegatexyz/delegate-registry, src/ at commit
// 209788dd449d4013e6f4adfd35ed3df8a7ef05d8, CC0-1.0). Only *.sol files at this
// folder's top level are compiled as sources; importing it here brings the
// registry and its libraries into the build.
pragma solidity ^0.8.21;

import {DelegateRegistry} from "delegate_registry/DelegateRegistry.sol";
