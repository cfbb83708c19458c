# pragma version ~=0.4.3
"""
@title Test trader contract for the CertificateExchange
@license GNU Affero General Public License v3.0 only
@notice Places and cancels orders from a contract address. Its ERC-1155 hook:
        mode 0 accepts, 1 returns a wrong value, 2 re-enters the exchange
        (`cancel_order(reenter_order)`) while receiving, 3 reverts.
"""

from ethereum.ercs import IERC20


interface IExchange:
    def place_ask(certificate_id: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256: nonpayable
    def place_bid(method: uint8, vintage: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256: nonpayable
    def cancel_order(order_id: uint256): nonpayable
    def withdraw_units(certificate_id: uint256, amount_wh: uint256): nonpayable


interface ICertificate:
    def setApprovalForAll(operator: address, approved: bool): nonpayable


mode: public(uint256)
reenter_order: public(uint256)
received: public(uint256)
EXCHANGE: immutable(IExchange)


@deploy
def __init__(exchange_: IExchange, certificate_: ICertificate, quote_: IERC20):
    EXCHANGE = exchange_
    extcall certificate_.setApprovalForAll(exchange_.address, True)
    extcall quote_.approve(exchange_.address, max_value(uint256))


@external
def set_mode(mode_: uint256, reenter_order_: uint256):
    self.mode = mode_
    self.reenter_order = reenter_order_


@external
def ask(certificate_id: uint256, price: uint256, amount_wh: uint256) -> uint256:
    return extcall EXCHANGE.place_ask(certificate_id, price, amount_wh, 0, 0)


@external
def bid(method: uint8, vintage: uint256, price: uint256, amount_wh: uint256) -> uint256:
    return extcall EXCHANGE.place_bid(method, vintage, price, amount_wh, 0, 0)


@external
def cancel(order_id: uint256):
    extcall EXCHANGE.cancel_order(order_id)


@external
def withdraw(certificate_id: uint256, amount_wh: uint256):
    extcall EXCHANGE.withdraw_units(certificate_id, amount_wh)


@external
def onERC1155Received(operator: address, owner: address, id: uint256, amount: uint256, data: Bytes[1_024]) -> bytes4:
    if self.mode == 1:
        return 0xdeadbeef
    if self.mode == 2:
        extcall EXCHANGE.cancel_order(self.reenter_order)
    if self.mode == 3:
        raise "trader: refuse"
    self.received += amount
    return method_id("onERC1155Received(address,address,uint256,uint256,bytes)", output_type=bytes4)


@external
def supportsInterface(interface_id: bytes4) -> bool:
    return interface_id == 0x4e2312e0 or interface_id == 0x01ffc9a7
