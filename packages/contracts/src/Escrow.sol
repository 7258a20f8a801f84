// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Registry} from "./Registry.sol";

/// @title Quorate Escrow
/// @notice Prefunded jobs, one-transaction settlement, pull payments, and
/// penalties backed by EIP-712 signed results.
///
/// A submitter funds a job naming its coordinator, budget, fee cap, deadline
/// and vote quorum; the job id binds the job spec hash. Before the deadline
/// the coordinator settles once for all shards: it credits each provider's
/// total, its own fee and the submitter's refund to pull balances, which their
/// owners withdraw. After the deadline an unsettled job's budget goes back to
/// the submitter, who alone can reclaim it.
///
/// @dev Books: token.balanceOf(this) >= sum(owed) + sum(budget of Funded jobs).
/// Settlement makes no external call; withdraw and reclaim zero the balance
/// before they transfer; every entry point is nonReentrant.
contract Escrow is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Funded,
        Settled,
        Reclaimed
    }

    /// @dev Four slots; settlement reads slots 0-2 and writes only slot 1.
    struct Job {
        address submitter;
        uint64 deadline;
        address coordinator;
        uint64 settledAt;
        Status status;
        uint8 quorum;
        uint128 budget;
        uint128 maxFee;
        bytes32 specHash;
    }

    struct FundParams {
        /// sha256 of the canonical job spec (the protocol's job id).
        bytes32 specHash;
        /// Any value the submitter picks; the same spec can be funded twice with two salts.
        bytes32 salt;
        address coordinator;
        uint128 budget;
        /// The most the coordinator may keep as its fee, out of the budget.
        uint128 maxFee;
        /// Unix time after which the job can no longer be settled and the submitter may reclaim.
        uint64 deadline;
        /// Matching results needed to accept a shard; evidence needs at least this many signatures.
        uint8 quorum;
    }

    /// @dev The slot never returns to zero once used, so later credits cost a
    /// warm-ish SSTORE (5k gas) instead of a fresh one (22k).
    struct Account {
        uint128 owed;
        uint64 credits;
        uint64 withdrawals;
    }

    /// @notice A provider's signed result for one shard; see SHARD_RESULT_TYPEHASH.
    struct SignedResult {
        uint32 shard;
        bytes32 digest;
        uint256 nonce;
        bytes signature;
    }

    bytes32 public constant SHARD_RESULT_TYPEHASH =
        keccak256("ShardResult(bytes32 jobId,uint32 shard,bytes32 digest,uint256 nonce)");
    /// @notice Most payees one settlement may credit.
    uint256 public constant MAX_PAYEES = 256;
    /// @notice Most quorum signatures one penalty may carry.
    uint256 public constant MAX_EVIDENCE_SIGNATURES = 32;
    /// @notice However low a job's quorum, no single other provider can get one slashed.
    uint256 public constant MIN_EVIDENCE_QUORUM = 2;

    IERC20 public immutable token;
    Registry public immutable registry;
    /// @notice How long after settlement the coordinator may submit penalties.
    uint256 public immutable disputeWindow;
    /// @notice Longest time from funding to deadline.
    uint256 public immutable maxJobDuration;

    uint256 public jobCount;

    mapping(bytes32 => Job) internal _jobs;
    mapping(address => Account) internal _accounts;
    /// @dev signer => word => bitmap of used evidence nonces.
    mapping(address => mapping(uint256 => uint256)) internal _nonceBitmap;
    mapping(bytes32 => mapping(address => bool)) public penalized;

    event JobFunded(
        bytes32 indexed jobId,
        address indexed submitter,
        address indexed coordinator,
        bytes32 specHash,
        uint256 budget,
        uint256 maxFee,
        uint64 deadline,
        uint8 quorum
    );
    /// @dev One event for the whole settlement, payouts included: cheaper than
    /// an event per credit (measured), and indexers read one log per job.
    event JobSettled(
        bytes32 indexed jobId,
        address indexed coordinator,
        bytes32 resultsRoot,
        address[] payees,
        uint256[] amounts,
        uint256 fee,
        uint256 refund
    );
    event JobReclaimed(bytes32 indexed jobId, address indexed submitter, uint256 amount);
    event Penalized(
        bytes32 indexed jobId,
        address indexed provider,
        uint32 shard,
        bytes32 digest,
        bytes32 acceptedDigest,
        uint256 amount
    );

    error ZeroAddress();
    error InvalidParameter(string name);
    error UnsupportedToken(uint256 expected, uint256 received);
    error CoordinatorNotRegistered(address coordinator);
    error JobExists(bytes32 jobId);
    error JobNotFound(bytes32 jobId);
    error AlreadySettled(bytes32 jobId);
    error AlreadyReclaimed(bytes32 jobId);
    error JobNotSettled(bytes32 jobId);
    error NotJobCoordinator(address caller, address coordinator);
    error NotSubmitter(address caller, address submitter);
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotReached(uint64 deadline);
    error LengthMismatch(uint256 payees, uint256 amounts);
    error TooManyPayees(uint256 count, uint256 max);
    error FeeTooHigh(uint256 fee, uint256 maxFee);
    error OverBudget(uint256 total, uint256 budget);
    error NothingOwed();
    error DisputeWindowClosed(uint256 closedAt);
    error QuorumNotMet(uint256 signatures, uint256 needed);
    error TooManySignatures(uint256 count, uint256 max);
    error InvalidSignature(uint256 index);
    error UnknownSigner(address signer);
    error SignerNotEligible(address provider);
    error NotInMinority(bytes32 digest);
    error ShardMismatch(uint256 index);
    error DigestMismatch(uint256 index);
    error SignersNotSorted(uint256 index);
    error NonceAlreadyUsed(address signer, uint256 nonce);
    error AlreadyPenalized(bytes32 jobId, address provider);

    constructor(IERC20 token_, Registry registry_, uint256 disputeWindow_, uint256 maxJobDuration_)
        EIP712("QuorateEscrow", "1")
    {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (address(registry_.token()) != address(token_)) revert InvalidParameter("token");
        if (disputeWindow_ == 0) revert InvalidParameter("disputeWindow");
        if (maxJobDuration_ == 0) revert InvalidParameter("maxJobDuration");
        // A provider who unstakes the moment it is handed a shard must still be
        // slashable when the dispute window of that job closes.
        if (maxJobDuration_ + disputeWindow_ >= registry_.unbondingDelay()) revert InvalidParameter("unbondingDelay");
        token = token_;
        registry = registry_;
        disputeWindow = disputeWindow_;
        maxJobDuration = maxJobDuration_;
    }

    // --------------------------------------------------------------------- jobs

    /// @notice Funds a job; pulls `budget` from msg.sender (approve first).
    function fundJob(FundParams calldata p) external nonReentrant returns (bytes32 jobId) {
        if (p.coordinator == address(0)) revert ZeroAddress();
        if (!registry.isCoordinator(p.coordinator)) revert CoordinatorNotRegistered(p.coordinator);
        if (p.budget == 0) revert InvalidParameter("budget");
        if (p.maxFee > p.budget) revert InvalidParameter("maxFee");
        if (p.quorum == 0) revert InvalidParameter("quorum");
        if (p.deadline <= block.timestamp || p.deadline > block.timestamp + maxJobDuration) {
            revert InvalidParameter("deadline");
        }
        jobId = computeJobId(msg.sender, p.specHash, p.salt);
        Job storage job = _jobs[jobId];
        if (job.status != Status.None) revert JobExists(jobId);

        job.submitter = msg.sender;
        job.deadline = p.deadline;
        job.coordinator = p.coordinator;
        job.status = Status.Funded;
        job.quorum = p.quorum;
        job.budget = p.budget;
        job.maxFee = p.maxFee;
        job.specHash = p.specHash;
        jobCount += 1;
        emit JobFunded(jobId, msg.sender, p.coordinator, p.specHash, p.budget, p.maxFee, p.deadline, p.quorum);

        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), p.budget);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != p.budget) revert UnsupportedToken(p.budget, received);
    }

    /// @notice Settles a job in one transaction for all its shards: credits
    /// `amounts[i]` to `payees[i]` (a provider's total over every shard it was
    /// paid for), `fee` to the coordinator and the rest of the budget to the
    /// submitter. Reverts if the job is not Funded, so it can never pay twice.
    /// @param resultsRoot The coordinator's commitment to the accepted results
    /// (logged, not stored), so the submitter can audit what was paid for.
    function settle(
        bytes32 jobId,
        address[] calldata payees,
        uint256[] calldata amounts,
        uint256 fee,
        bytes32 resultsRoot
    ) external nonReentrant {
        (address coordinator, uint256 refund) = _settle(jobId, payees, amounts, fee);
        emit JobSettled(jobId, coordinator, resultsRoot, payees, amounts, fee, refund);
    }

    /// @notice After the deadline, the submitter takes back an unsettled job's budget.
    function reclaim(bytes32 jobId) external nonReentrant returns (uint256 amount) {
        Job storage job = _jobs[jobId];
        Status status = job.status;
        if (status != Status.Funded) _revertStatus(jobId, status);
        if (msg.sender != job.submitter) revert NotSubmitter(msg.sender, job.submitter);
        if (block.timestamp <= job.deadline) revert DeadlineNotReached(job.deadline);

        job.status = Status.Reclaimed;
        amount = job.budget;
        emit JobReclaimed(jobId, msg.sender, amount);

        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Pays out everything credited to msg.sender, over all jobs.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Account storage a = _accounts[msg.sender];
        amount = a.owed;
        if (amount == 0) revert NothingOwed();
        a.owed = 0;
        a.withdrawals += 1;

        // The token's Transfer event records the withdrawal.
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- penalties

    /// @notice Slashes a provider whose signed result for a shard disagrees
    /// with signed results of at least max(quorum, 2) other eligible providers.
    /// Only the job's coordinator, only after settlement, only within the
    /// dispute window. `quorum` must be sorted by provider address, ascending
    /// (that is how duplicates are refused). The accused's evidence nonce is
    /// spent, so the same signature can never be used twice.
    function penalize(bytes32 jobId, SignedResult calldata accused, SignedResult[] calldata quorum)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        Job storage job = _jobs[jobId];
        if (job.status != Status.Settled) revert JobNotSettled(jobId);
        if (msg.sender != job.coordinator) revert NotJobCoordinator(msg.sender, job.coordinator);
        uint256 closesAt = uint256(job.settledAt) + disputeWindow;
        if (block.timestamp > closesAt) revert DisputeWindowClosed(closesAt);
        uint256 needed = job.quorum < MIN_EVIDENCE_QUORUM ? MIN_EVIDENCE_QUORUM : job.quorum;
        if (quorum.length < needed) revert QuorumNotMet(quorum.length, needed);
        if (quorum.length > MAX_EVIDENCE_SIGNATURES) revert TooManySignatures(quorum.length, MAX_EVIDENCE_SIGNATURES);

        bytes32 accepted = quorum[0].digest;
        if (accused.digest == accepted) revert NotInMinority(accused.digest);
        (address accusedSigner, address accusedProvider) = _signerOf(jobId, accused, type(uint256).max);

        address previous;
        for (uint256 i; i < quorum.length; ++i) {
            SignedResult calldata q = quorum[i];
            if (q.shard != accused.shard) revert ShardMismatch(i);
            if (q.digest != accepted) revert DigestMismatch(i);
            (, address provider) = _signerOf(jobId, q, i);
            if (uint160(provider) <= uint160(previous) || provider == accusedProvider) revert SignersNotSorted(i);
            if (!registry.isEligible(provider)) revert SignerNotEligible(provider);
            previous = provider;
        }

        _useNonce(accusedSigner, accused.nonce);
        if (penalized[jobId][accusedProvider]) revert AlreadyPenalized(jobId, accusedProvider);
        penalized[jobId][accusedProvider] = true;
        slashed = registry.slash(accusedProvider, registry.slashAmount(), jobId);
        emit Penalized(jobId, accusedProvider, accused.shard, accused.digest, accepted, slashed);
    }

    // -------------------------------------------------------------------- reads

    /// @notice The id a job funded by `submitter` with `specHash` and `salt` gets
    /// on this chain and this Escrow.
    function computeJobId(address submitter, bytes32 specHash, bytes32 salt) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), submitter, specHash, salt));
    }

    function getJob(bytes32 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    function getAccount(address account) external view returns (Account memory) {
        return _accounts[account];
    }

    function owed(address account) external view returns (uint256) {
        return _accounts[account].owed;
    }

    function isNonceUsed(address signer, uint256 nonce) public view returns (bool) {
        return _nonceBitmap[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @notice The EIP-712 digest a provider's operator signs for one shard result.
    function hashShardResult(bytes32 jobId, uint32 shard, bytes32 digest, uint256 nonce) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SHARD_RESULT_TYPEHASH, jobId, shard, digest, nonce)));
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ----------------------------------------------------------------- internal

    function _credit(address account, uint256 amount) internal {
        Account storage a = _accounts[account];
        a.owed += uint128(amount);
        a.credits += 1;
    }

    /// @dev settle's checks and effects, apart so the event fits on the stack.
    function _settle(bytes32 jobId, address[] calldata payees, uint256[] calldata amounts, uint256 fee)
        internal
        returns (address coordinator, uint256 refund)
    {
        Job storage job = _jobs[jobId];
        Status status = job.status;
        if (status != Status.Funded) _revertStatus(jobId, status);
        coordinator = job.coordinator;
        if (msg.sender != coordinator) revert NotJobCoordinator(msg.sender, coordinator);
        if (block.timestamp > job.deadline) revert DeadlinePassed(job.deadline);
        uint256 n = payees.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        if (n > MAX_PAYEES) revert TooManyPayees(n, MAX_PAYEES);
        if (fee > job.maxFee) revert FeeTooHigh(fee, job.maxFee);

        job.status = Status.Settled;
        job.settledAt = uint64(block.timestamp);

        uint256 budget = job.budget;
        uint256 paid = _creditAll(payees, amounts, budget);
        if (paid + fee > budget) revert OverBudget(paid + fee, budget);
        refund = budget - paid - fee;
        if (fee != 0) _credit(coordinator, fee);
        if (refund != 0) _credit(job.submitter, refund);
    }

    function _creditAll(address[] calldata payees, uint256[] calldata amounts, uint256 budget)
        internal
        returns (uint256 paid)
    {
        for (uint256 i; i < payees.length; ++i) {
            address payee = payees[i];
            uint256 amount = amounts[i];
            if (payee == address(0)) revert ZeroAddress();
            paid += amount;
            // Also bounds every amount by the budget, which fits in uint128.
            if (paid > budget) revert OverBudget(paid, budget);
            _credit(payee, amount);
        }
    }

    function _signerOf(bytes32 jobId, SignedResult calldata r, uint256 index)
        internal
        view
        returns (address signer, address provider)
    {
        bytes32 hash = hashShardResult(jobId, r.shard, r.digest, r.nonce);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, r.signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(index);
        provider = registry.providerOfOperator(recovered);
        if (provider == address(0)) revert UnknownSigner(recovered);
        signer = recovered;
    }

    function _useNonce(address signer, uint256 nonce) internal {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = _nonceBitmap[signer][nonce >> 8];
        if (word & bit != 0) revert NonceAlreadyUsed(signer, nonce);
        _nonceBitmap[signer][nonce >> 8] = word | bit;
    }

    function _revertStatus(bytes32 jobId, Status status) internal pure {
        if (status == Status.None) revert JobNotFound(jobId);
        if (status == Status.Settled) revert AlreadySettled(jobId);
        revert AlreadyReclaimed(jobId);
    }
}
