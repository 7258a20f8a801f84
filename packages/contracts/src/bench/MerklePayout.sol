// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Merkle payout (benchmark only)
/// @notice The alternative to Escrow's batched pull balances, kept to measure
/// it: settlement stores one root over (index, account, amount) leaves and
/// each provider claims its leaf with a proof. Same token, same guard, same
/// job bookkeeping cost as Escrow (one status word), so the gas compares fairly.
/// It does not check that leaves add up to the budget: never deploy it.
contract MerklePayout is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Job {
        address coordinator;
        uint96 budget;
        bytes32 root;
    }

    IERC20 public immutable token;
    mapping(bytes32 => Job) public jobs;
    mapping(bytes32 => mapping(uint256 => uint256)) internal _claimed;

    error BadJob();
    error NotCoordinator();
    error AlreadyClaimed(uint256 index);
    error InvalidProof();

    constructor(IERC20 token_) {
        token = token_;
    }

    function fund(bytes32 jobId, address coordinator, uint96 budget) external nonReentrant {
        if (jobs[jobId].coordinator != address(0)) revert BadJob();
        jobs[jobId] = Job(coordinator, budget, bytes32(0));
        token.safeTransferFrom(msg.sender, address(this), budget);
    }

    /// @notice One transaction for all shards: the root covers every payee leaf
    /// (the coordinator's fee and the submitter's refund are leaves too).
    function settle(bytes32 jobId, bytes32 root) external nonReentrant {
        Job storage job = jobs[jobId];
        if (msg.sender != job.coordinator) revert NotCoordinator();
        if (job.root != bytes32(0) || root == bytes32(0)) revert BadJob();
        job.root = root;
    }

    function claim(bytes32 jobId, uint256 index, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        bytes32 root = jobs[jobId].root;
        uint256 word = _claimed[jobId][index >> 8];
        uint256 bit = 1 << (index & 0xff);
        if (word & bit != 0) revert AlreadyClaimed(index);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, msg.sender, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        _claimed[jobId][index >> 8] = word | bit;
        token.safeTransfer(msg.sender, amount);
    }
}
