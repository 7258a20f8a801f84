// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title Quorate Registry
/// @notice Who may take part: providers (libp2p PeerId, an operator key that
/// signs results, a stake in the payment token) and coordinators. Stake leaves
/// only after an unbonding delay that is longer than any job's lifetime plus
/// its dispute window, so no provider can exit before a penalty lands.
/// @dev The only privileged caller is the Escrow bound once at deployment: it
/// alone may slash, and only with evidence it has checked. There is no owner,
/// no upgrade and no way to move staked tokens other than the provider's own
/// withdrawal and a slash.
contract Registry is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Provider {
        // Key whose EIP-712 signatures count as this provider's results. Fixed
        // for life: rotating it would let a provider disown evidence.
        address operator;
        uint64 registeredAt;
        uint32 slashCount;
        uint128 stake;
        uint128 unbonding;
        uint64 unbondingEndsAt;
        uint128 totalSlashed;
        string peerId;
    }

    struct Coordinator {
        uint64 registeredAt;
        string peerId;
    }

    /// @notice How a coordinator is reached: providers and submitters read
    /// this to find coordinators by themselves. Only the coordinator writes it.
    struct CoordinatorEndpoints {
        string[] multiaddrs;
        string httpUrl;
        uint64 updatedAt;
    }

    /// @notice Where a provider runs, set by the provider or its operator so a
    /// coordinator spreads a shard's replicas across regions by a name the
    /// provider is accountable for, not one it declares per connection.
    struct ProviderTopology {
        string region;
        string zone;
        uint64 updatedAt;
    }

    /// @notice Longest region or zone name (lower-case letters, digits, inner dashes).
    uint256 public constant MAX_TOPOLOGY_LENGTH = 32;
    /// @notice Longest PeerId string accepted (a base58 Ed25519 PeerId is 52 chars).
    uint256 public constant MAX_PEER_ID_LENGTH = 128;
    /// @notice Most multiaddrs a coordinator may publish.
    uint256 public constant MAX_COORDINATOR_MULTIADDRS = 8;
    /// @notice Longest multiaddr or HTTP URL string accepted.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    /// @notice Most coordinators one `coordinatorsPage` call returns.
    uint256 public constant MAX_PAGE = 100;

    IERC20 public immutable token;
    uint256 public immutable minProviderStake;
    uint256 public immutable unbondingDelay;
    uint256 public immutable slashAmount;
    address public immutable deployer;

    /// @notice The Escrow allowed to slash; bound once by the deployer.
    address public escrow;

    uint256 public providerCount;
    uint256 public coordinatorCount;
    uint256 public totalStaked;
    uint256 public totalUnbonding;
    /// @notice Slashed tokens stay locked here forever: nobody profits from a slash.
    uint256 public totalSlashed;

    mapping(address => Provider) internal _providers;
    mapping(address => Coordinator) internal _coordinators;
    mapping(address => CoordinatorEndpoints) internal _endpoints;
    mapping(address => ProviderTopology) internal _topology;
    /// @dev Every registered coordinator in registration order, so readers can enumerate them.
    address[] internal _coordinatorList;
    mapping(address => address) public providerOfOperator;
    mapping(bytes32 => address) public providerOfPeerId;

    event EscrowBound(address indexed escrow);
    event ProviderRegistered(address indexed provider, address indexed operator, string peerId, uint256 stake);
    event CoordinatorRegistered(address indexed coordinator, string peerId);
    event CoordinatorEndpointsSet(address indexed coordinator, string[] multiaddrs, string httpUrl);
    event ProviderTopologySet(address indexed provider, string region, string zone);
    event Staked(address indexed provider, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 unbonding, uint64 unbondingEndsAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event Slashed(address indexed provider, bytes32 indexed jobId, uint256 amount);

    error ZeroAddress();
    error ZeroAmount();
    error InvalidParameter(string name);
    error NotDeployer(address caller);
    error EscrowAlreadyBound(address escrow);
    error NotEscrow(address caller);
    error AlreadyRegistered(address account);
    error NotRegistered(address account);
    error InvalidPeerId();
    error InvalidEndpoint(uint256 index);
    error InvalidTopology(string name);
    error NotProviderOrOperator(address caller);
    error TooManyEndpoints(uint256 count, uint256 maximum);
    error PeerIdTaken(address owner);
    error OperatorTaken(address provider);
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error InsufficientStake(uint256 requested, uint256 available);
    error NothingUnbonding();
    error UnbondingNotElapsed(uint64 readyAt);
    error UnsupportedToken(uint256 expected, uint256 received);

    modifier onlyEscrow() {
        if (msg.sender != escrow) revert NotEscrow(msg.sender);
        _;
    }

    constructor(IERC20 token_, uint256 minProviderStake_, uint256 unbondingDelay_, uint256 slashAmount_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        if (minProviderStake_ == 0) revert InvalidParameter("minProviderStake");
        if (unbondingDelay_ == 0) revert InvalidParameter("unbondingDelay");
        if (slashAmount_ == 0 || slashAmount_ > minProviderStake_) revert InvalidParameter("slashAmount");
        token = token_;
        minProviderStake = minProviderStake_;
        unbondingDelay = unbondingDelay_;
        slashAmount = slashAmount_;
        deployer = msg.sender;
    }

    /// @notice Binds the Escrow that may slash. Once, by the deployer; the
    /// Escrow checks itself that its dispute window fits in the unbonding delay.
    function bindEscrow(address escrow_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (escrow != address(0)) revert EscrowAlreadyBound(escrow);
        if (escrow_ == address(0)) revert ZeroAddress();
        escrow = escrow_;
        emit EscrowBound(escrow_);
    }

    // ---------------------------------------------------------------- providers

    /// @notice Registers msg.sender as a provider and pulls `amount` of stake
    /// (approve the Registry first). `operator` signs results for it.
    function registerProvider(string calldata peerId, address operator, uint256 amount) external nonReentrant {
        if (_providers[msg.sender].registeredAt != 0) revert AlreadyRegistered(msg.sender);
        if (operator == address(0)) revert ZeroAddress();
        if (providerOfOperator[operator] != address(0)) revert OperatorTaken(providerOfOperator[operator]);
        bytes32 peerKey = _peerKey(peerId);
        if (providerOfPeerId[peerKey] != address(0)) revert PeerIdTaken(providerOfPeerId[peerKey]);
        if (amount < minProviderStake) revert StakeBelowMinimum(amount, minProviderStake);

        Provider storage p = _providers[msg.sender];
        p.operator = operator;
        p.registeredAt = uint64(block.timestamp);
        p.stake = _u128(amount);
        p.peerId = peerId;
        providerOfOperator[operator] = msg.sender;
        providerOfPeerId[peerKey] = msg.sender;
        providerCount += 1;
        totalStaked += amount;
        emit ProviderRegistered(msg.sender, operator, peerId, amount);

        _pull(amount);
    }

    /// @notice Adds `amount` to msg.sender's active stake.
    function stake(uint256 amount) external nonReentrant {
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 newStake = uint256(p.stake) + amount;
        p.stake = _u128(newStake);
        totalStaked += amount;
        emit Staked(msg.sender, amount, newStake);

        _pull(amount);
    }

    /// @notice Moves `amount` of active stake into unbonding. The clock
    /// restarts for everything unbonding, so a late slash can still reach it.
    function unstake(uint256 amount) external {
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount > p.stake) revert InsufficientStake(amount, p.stake);
        p.stake -= uint128(amount);
        p.unbonding += uint128(amount);
        uint64 endsAt = uint64(block.timestamp + unbondingDelay);
        p.unbondingEndsAt = endsAt;
        totalStaked -= amount;
        totalUnbonding += amount;
        emit UnstakeRequested(msg.sender, amount, p.unbonding, endsAt);
    }

    /// @notice Withdraws everything that has finished unbonding.
    function withdrawStake() external nonReentrant returns (uint256 amount) {
        Provider storage p = _registered(msg.sender);
        amount = p.unbonding;
        if (amount == 0) revert NothingUnbonding();
        if (block.timestamp < p.unbondingEndsAt) revert UnbondingNotElapsed(p.unbondingEndsAt);
        p.unbonding = 0;
        totalUnbonding -= amount;
        emit StakeWithdrawn(msg.sender, amount);

        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Takes up to `amount` from a provider's stake, active first, then
    /// unbonding. Only the Escrow, after checking signed evidence.
    function slash(address provider, uint256 amount, bytes32 jobId) external onlyEscrow returns (uint256 taken) {
        Provider storage p = _registered(provider);
        uint256 fromStake = amount < p.stake ? amount : p.stake;
        uint256 rest = amount - fromStake;
        uint256 fromUnbonding = rest < p.unbonding ? rest : p.unbonding;
        taken = fromStake + fromUnbonding;
        p.stake -= uint128(fromStake);
        p.unbonding -= uint128(fromUnbonding);
        p.slashCount += 1;
        p.totalSlashed += uint128(taken);
        totalStaked -= fromStake;
        totalUnbonding -= fromUnbonding;
        totalSlashed += taken;
        emit Slashed(provider, jobId, taken);
    }

    /// @notice Sets the region and zone `provider` runs in; callable by the
    /// provider's account or its operator key. Each is empty (none) or 1 to 32
    /// lower-case letters, digits and inner dashes; a zone needs a region.
    function setProviderTopology(address provider, string calldata region, string calldata zone) external {
        Provider storage p = _registered(provider);
        if (msg.sender != provider && msg.sender != p.operator) revert NotProviderOrOperator(msg.sender);
        if (!_topologyName(bytes(region))) revert InvalidTopology("region");
        if (!_topologyName(bytes(zone)) || (bytes(zone).length != 0 && bytes(region).length == 0)) {
            revert InvalidTopology("zone");
        }
        ProviderTopology storage t = _topology[provider];
        t.region = region;
        t.zone = zone;
        t.updatedAt = uint64(block.timestamp);
        emit ProviderTopologySet(provider, region, zone);
    }

    // ------------------------------------------------------------- coordinators

    /// @notice Registers msg.sender as a coordinator reachable at `peerId`.
    function registerCoordinator(string calldata peerId) external {
        if (_coordinators[msg.sender].registeredAt != 0) revert AlreadyRegistered(msg.sender);
        uint256 len = bytes(peerId).length;
        if (len == 0 || len > MAX_PEER_ID_LENGTH) revert InvalidPeerId();
        Coordinator storage c = _coordinators[msg.sender];
        c.registeredAt = uint64(block.timestamp);
        c.peerId = peerId;
        coordinatorCount += 1;
        _coordinatorList.push(msg.sender);
        emit CoordinatorRegistered(msg.sender, peerId);
    }

    /// @notice Publishes how msg.sender (a registered coordinator) is reached:
    /// libp2p multiaddrs (each starting with "/") and an HTTP URL (http:// or
    /// https://, or empty). Replaces what it published before; an empty list
    /// withdraws them. Strings are printable ASCII without spaces and bounded,
    /// so a reader never parses something huge or invisible.
    function setCoordinatorEndpoints(string[] calldata multiaddrs, string calldata httpUrl) external {
        if (_coordinators[msg.sender].registeredAt == 0) revert NotRegistered(msg.sender);
        uint256 count = multiaddrs.length;
        if (count > MAX_COORDINATOR_MULTIADDRS) revert TooManyEndpoints(count, MAX_COORDINATOR_MULTIADDRS);
        for (uint256 i = 0; i < count; i++) {
            bytes memory addr = bytes(multiaddrs[i]);
            if (addr.length == 0 || addr[0] != "/" || !_printable(addr)) revert InvalidEndpoint(i);
        }
        bytes memory url = bytes(httpUrl);
        if (url.length != 0 && (!_printable(url) || !(_startsWith(url, "http://") || _startsWith(url, "https://")))) {
            revert InvalidEndpoint(count);
        }
        CoordinatorEndpoints storage e = _endpoints[msg.sender];
        delete e.multiaddrs;
        for (uint256 i = 0; i < count; i++) {
            e.multiaddrs.push(multiaddrs[i]);
        }
        e.httpUrl = httpUrl;
        e.updatedAt = uint64(block.timestamp);
        emit CoordinatorEndpointsSet(msg.sender, multiaddrs, httpUrl);
    }

    // -------------------------------------------------------------------- reads

    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    function getProviderTopology(address provider) external view returns (ProviderTopology memory) {
        return _topology[provider];
    }

    function getCoordinator(address coordinator) external view returns (Coordinator memory) {
        return _coordinators[coordinator];
    }

    function getCoordinatorEndpoints(address coordinator) external view returns (CoordinatorEndpoints memory) {
        return _endpoints[coordinator];
    }

    /// @notice Up to `limit` (at most MAX_PAGE) registered coordinators from `offset`, in registration order.
    function coordinatorsPage(uint256 offset, uint256 limit) external view returns (address[] memory page) {
        uint256 total = _coordinatorList.length;
        if (limit > MAX_PAGE) limit = MAX_PAGE;
        uint256 end = offset >= total ? offset : (total - offset > limit ? offset + limit : total);
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = _coordinatorList[i];
        }
    }

    function isProvider(address account) external view returns (bool) {
        return _providers[account].registeredAt != 0;
    }

    function isCoordinator(address account) external view returns (bool) {
        return _coordinators[account].registeredAt != 0;
    }

    /// @notice Registered and holding at least the minimum active stake.
    function isEligible(address provider) public view returns (bool) {
        Provider storage p = _providers[provider];
        return p.registeredAt != 0 && p.stake >= minProviderStake;
    }

    // ----------------------------------------------------------------- internal

    function _registered(address provider) internal view returns (Provider storage p) {
        p = _providers[provider];
        if (p.registeredAt == 0) revert NotRegistered(provider);
    }

    function _peerKey(string calldata peerId) internal pure returns (bytes32) {
        uint256 len = bytes(peerId).length;
        if (len == 0 || len > MAX_PEER_ID_LENGTH) revert InvalidPeerId();
        return keccak256(bytes(peerId));
    }

    /// @dev Bounded and visible: printable ASCII, no spaces or control bytes.
    function _printable(bytes memory value) internal pure returns (bool) {
        if (value.length > MAX_ENDPOINT_LENGTH) return false;
        for (uint256 i = 0; i < value.length; i++) {
            if (value[i] < 0x21 || value[i] > 0x7e) return false;
        }
        return true;
    }

    /// @dev Empty, or 1..MAX_TOPOLOGY_LENGTH of [a-z0-9-] neither starting nor ending with a dash.
    function _topologyName(bytes memory name) internal pure returns (bool) {
        uint256 len = name.length;
        if (len == 0) return true;
        if (len > MAX_TOPOLOGY_LENGTH || name[0] == "-" || name[len - 1] == "-") return false;
        for (uint256 i = 0; i < len; i++) {
            bytes1 c = name[i];
            if (!((c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-")) return false;
        }
        return true;
    }

    function _startsWith(bytes memory value, bytes memory prefix) internal pure returns (bool) {
        if (value.length < prefix.length) return false;
        for (uint256 i = 0; i < prefix.length; i++) {
            if (value[i] != prefix[i]) return false;
        }
        return true;
    }

    /// @dev Pulls tokens after all effects; refuses fee-on-transfer tokens,
    /// whose shortfall would break the books.
    function _pull(uint256 amount) internal {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert UnsupportedToken(amount, received);
    }

    function _u128(uint256 value) internal pure returns (uint128) {
        if (value > type(uint128).max) revert InvalidParameter("amount");
        return uint128(value);
    }
}
