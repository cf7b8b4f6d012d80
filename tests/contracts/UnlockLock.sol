// SPDX-License-Identifier: MIT
// A lock with Unlock Protocol's PublicLock v13 interface, for the membership
// tests. The views behave as PublicLock v13's MixinKeys: a key is valid while
// its expiration timestamp is after block.timestamp; balanceOf counts valid
// keys only, totalKeys every key held; tokenOfOwnerByIndex enumerates every
// key held, expired or not; keyExpirationTimestampFor is 0 for no such key.
// What it leaves out: purchases, prices, refunds (amounts other than 0),
// hooks, roles other than lock managers. One difference on purpose: a lock
// manager may transfer any key, so tests need not sign as the holder.
pragma solidity ^0.8.20;

contract TestPublicLock {
    struct Key {
        uint256 tokenId;
        uint256 expirationTimestamp;
    }

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event ExpireKey(uint256 indexed tokenId);

    mapping(address => bool) private _lockManagers;
    mapping(uint256 => Key) private _keys;
    mapping(uint256 => address) private _ownerOf;
    mapping(address => uint256[]) private _ownedKeyIds;
    uint256 private _totalSupply;

    constructor() {
        _lockManagers[msg.sender] = true;
    }

    function publicLockVersion() external pure returns (uint16) {
        return 13;
    }

    function isLockManager(address account) public view returns (bool) {
        return _lockManagers[account];
    }

    function addLockManager(address account) external {
        require(isLockManager(msg.sender), "ONLY_LOCK_MANAGER");
        _lockManagers[account] = true;
    }

    /// New keys with ids 1, 2, ... (as Unlock numbers them), each with its own expiry.
    function grantKeys(
        address[] calldata _recipients,
        uint256[] calldata _expirationTimestamps,
        address[] calldata _keyManagers
    ) external returns (uint256[] memory tokenIds) {
        require(isLockManager(msg.sender), "ONLY_LOCK_MANAGER");
        require(_recipients.length == _expirationTimestamps.length, "INVALID_PARAMS");
        _keyManagers; // accepted for the interface; this lock has no key managers
        tokenIds = new uint256[](_recipients.length);
        for (uint256 i = 0; i < _recipients.length; i++) {
            require(_recipients[i] != address(0), "INVALID_ADDRESS");
            _totalSupply++;
            uint256 tokenId = _totalSupply;
            _keys[tokenId] = Key(tokenId, _expirationTimestamps[i]);
            _ownerOf[tokenId] = _recipients[i];
            _ownedKeyIds[_recipients[i]].push(tokenId);
            tokenIds[i] = tokenId;
            emit Transfer(address(0), _recipients[i], tokenId);
        }
    }

    /// Expire a valid key now (Unlock: expiration set to block.timestamp); no refund here.
    function expireAndRefundFor(uint256 _tokenId, uint256 _amount) external {
        require(isLockManager(msg.sender), "ONLY_LOCK_MANAGER");
        require(isValidKey(_tokenId), "KEY_NOT_VALID");
        require(_amount == 0, "NO_REFUNDS_IN_TEST_LOCK");
        _keys[_tokenId].expirationTimestamp = block.timestamp;
        emit ExpireKey(_tokenId);
    }

    function transferFrom(address _from, address _to, uint256 _tokenId) external {
        require(_to != address(0), "INVALID_ADDRESS");
        require(_ownerOf[_tokenId] == _from && _from != address(0), "UNAUTHORIZED");
        require(msg.sender == _from || isLockManager(msg.sender), "UNAUTHORIZED");
        uint256[] storage owned = _ownedKeyIds[_from];
        for (uint256 i = 0; i < owned.length; i++) {
            if (owned[i] == _tokenId) {
                owned[i] = owned[owned.length - 1];
                owned.pop();
                break;
            }
        }
        _ownerOf[_tokenId] = _to;
        _ownedKeyIds[_to].push(_tokenId);
        emit Transfer(_from, _to, _tokenId);
    }

    function isValidKey(uint256 _tokenId) public view returns (bool) {
        return _keys[_tokenId].expirationTimestamp > block.timestamp;
    }

    function getHasValidKey(address _user) external view returns (bool) {
        return balanceOf(_user) > 0;
    }

    function keyExpirationTimestampFor(uint256 _tokenId) external view returns (uint256) {
        return _keys[_tokenId].expirationTimestamp;
    }

    function totalKeys(address _keyOwner) public view returns (uint256) {
        return _ownedKeyIds[_keyOwner].length;
    }

    function balanceOf(address _keyOwner) public view returns (uint256 balance) {
        require(_keyOwner != address(0), "INVALID_ADDRESS");
        uint256[] storage owned = _ownedKeyIds[_keyOwner];
        for (uint256 i = 0; i < owned.length; i++) {
            if (isValidKey(owned[i])) {
                balance++;
            }
        }
    }

    function tokenOfOwnerByIndex(address _keyOwner, uint256 _index) external view returns (uint256) {
        require(_index < totalKeys(_keyOwner), "OUT_OF_RANGE");
        return _ownedKeyIds[_keyOwner][_index];
    }

    function ownerOf(uint256 _tokenId) external view returns (address) {
        return _ownerOf[_tokenId];
    }

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }
}
