// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/// @title TestBEP20
/// @notice A minimal BEP20 token for local chains and tests. Its runtime code
/// is placed at real token addresses with `anvil_setCode`, so it keeps no
/// immutables and needs no constructor: name and symbol are set once by
/// `initialize`. Anyone may mint: never deploy it where value is real.
contract TestBEP20 {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    string public name;
    string public symbol;
    bool private initialized;

    function decimals() external pure returns (uint8) {
        return 18;
    }

    function initialize(string calldata name_, string calldata symbol_) external {
        require(!initialized, "already initialized");
        initialized = true;
        name = name_;
        symbol = symbol_;
    }

    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        _spend(from, value);
        _move(from, to, value);
        return true;
    }

    /// @notice Many transfers from the caller in one transaction.
    function batchTransfer(address[] calldata to, uint256[] calldata values) external {
        require(to.length == values.length, "length mismatch");
        for (uint256 i = 0; i < to.length; i++) {
            _move(msg.sender, to[i], values[i]);
        }
    }

    /// @notice Many allowance-backed transfers in one transaction, in order.
    function batchTransferFrom(
        address[] calldata from,
        address[] calldata to,
        uint256[] calldata values
    ) external {
        require(from.length == to.length && to.length == values.length, "length mismatch");
        for (uint256 i = 0; i < to.length; i++) {
            _spend(from[i], values[i]);
            _move(from[i], to[i], values[i]);
        }
    }

    function _spend(address from, uint256 value) private {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "allowance too low");
            allowance[from][msg.sender] = allowed - value;
        }
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance too low");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
