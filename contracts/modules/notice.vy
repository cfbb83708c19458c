# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Announced parameter changes
@custom:contract-name notice
@license GNU Affero General Public License v3.0 only
@notice A parameter that can cost members value changes in two steps: the
        operator announces the new value, and it can be applied only once
        `NOTICE_S` seconds have passed, so members see it coming and can
        withdraw, cancel or sell first. A new announcement of the same
        parameter replaces the pending one and restarts its notice.
        The deployable that `initializes:` this module checks the value
        against its own deploy-time limits, logs its own
        `Update<Thing>Announced(value, effective_at)` event, and exports
        `pending_change` and `NOTICE_S`.
@custom:security The notice is counted from the announcing block's
        timestamp; applying early reverts with "notice: not yet effective".
"""

# @dev Seconds between an announcement and the earliest time it may apply
#      (immutable; the design's default is 7 days).
NOTICE_S: public(immutable(uint256))

# @dev Parameter id (a constant of the deployable) => announced value
#      (two values packed by the deployable where a change has two).
_pending_value: HashMap[uint256, uint256]

# @dev Parameter id => timestamp (s) from which the announced value may be
#      applied; 0 when nothing is announced.
_effective_at: HashMap[uint256, uint256]


@deploy
def __init__(notice_s_: uint256):
    """
    @param notice_s_ The 32-byte notice period in seconds.
    """
    NOTICE_S = notice_s_


@external
@view
def pending_change(param: uint256) -> (uint256, uint256):
    """
    @notice The announced value of parameter `param` and the time from
            which it may apply (0, 0 when nothing is announced).
    @param param The 32-byte parameter id (see the contract's constants).
    @return value The 32-byte announced value, effective_at The 32-byte
            timestamp in seconds.
    """
    return self._pending_value[param], self._effective_at[param]


@internal
def _announce(param: uint256, new_value: uint256) -> uint256:
    """
    @dev Records `new_value` for `param`; returns the timestamp (s) it may apply.
    """
    effective_at: uint256 = block.timestamp + NOTICE_S
    self._pending_value[param] = new_value
    self._effective_at[param] = effective_at
    return effective_at


@internal
def _take(param: uint256) -> uint256:
    """
    @dev Returns the announced value of `param` once its notice is over and
         clears it; reverts before.
    """
    effective_at: uint256 = self._effective_at[param]
    assert effective_at != 0, "notice: nothing announced"
    assert block.timestamp >= effective_at, "notice: not yet effective"
    announced: uint256 = self._pending_value[param]
    self._pending_value[param] = 0
    self._effective_at[param] = 0
    return announced
