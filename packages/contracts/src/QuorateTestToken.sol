// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Quorate test token
/// @notice The payment token on local chains (devnet, tests). The deployer
/// mints; it has no other privilege. Never deploy this where value is real.
contract QuorateTestToken is ERC20 {
    address public immutable minter;

    error NotMinter(address caller);

    constructor() ERC20("Quorate Test Token", "QTT") {
        minter = msg.sender;
    }

    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }
}
