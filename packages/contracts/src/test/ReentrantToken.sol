// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Reentrant token (tests only)
/// @notice A hostile payment token: when it moves tokens out of `target`, it
/// first calls back into `target` with `payload`, from its own address. The
/// token is also the attacking account: `execute` lets it fund jobs and
/// withdraw like any submitter or provider.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    /// @notice Bubble the inner call's revert (true) or swallow it (false).
    bool public bubble;
    uint256 public reentryAttempts;
    bool public lastReentrySucceeded;

    constructor() ERC20("Reentrant Token", "EVIL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_, bool bubble_) external {
        target = target_;
        payload = payload_;
        bubble = bubble_;
    }

    /// @notice Makes a call as this contract (the attacking account).
    function execute(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) _bubble(ret);
        return ret;
    }

    function _update(address from, address to, uint256 value) internal override {
        address t = target;
        if (t != address(0) && from == t) {
            target = address(0); // one attempt per arming
            reentryAttempts += 1;
            (bool ok, bytes memory ret) = t.call(payload);
            lastReentrySucceeded = ok;
            if (!ok && bubble) _bubble(ret);
        }
        super._update(from, to, value);
    }

    function _bubble(bytes memory ret) internal pure {
        assembly {
            revert(add(ret, 0x20), mload(ret))
        }
    }
}
