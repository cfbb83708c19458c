# pragma version ~=0.4.3
"""
@title Test receiver: accepts, rejects, or re-enters the certificate contract from its hook
@license GNU Affero General Public License v3.0 only
@notice mode 0 accepts, 1 returns a wrong value, 2 re-enters `claim` during the hook.
"""

interface ICertificate:
    def claim(id: uint256, amount: uint256, beneficiary: address, purpose: String[128]): nonpayable
    def setApprovalForAll(operator: address, approved: bool): nonpayable

mode: public(uint256)
received: public(uint256)


@deploy
def __init__(mode_: uint256):
    self.mode = mode_


@external
def onERC1155Received(operator: address, owner: address, id: uint256, amount: uint256, data: Bytes[1_024]) -> bytes4:
    if self.mode == 1:
        return 0xdeadbeef
    if self.mode == 2:
        extcall ICertificate(msg.sender).claim(id, 1, self, "reentry")
    self.received += amount
    return method_id("onERC1155Received(address,address,uint256,uint256,bytes)", output_type=bytes4)


@external
def onERC1155BatchReceived(
    operator: address, owner: address, ids: DynArray[uint256, 128], amounts: DynArray[uint256, 128], data: Bytes[1_024]
) -> bytes4:
    if self.mode == 1:
        return 0xdeadbeef
    return method_id("onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", output_type=bytes4)


@external
def supportsInterface(interface_id: bytes4) -> bool:
    return interface_id == 0x4e2312e0 or interface_id == 0x01ffc9a7
