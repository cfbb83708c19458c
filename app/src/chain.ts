// One publicClient and one walletClient per page session. Addresses from the deployment record the
// server hands out (deployments/<ecosystem>-<network>-<chain id>.json); ABIs generated from the
// contracts at build time (generated/contracts.ts, `as const`), so every read, write and event is typed.
import {
  type Address, type Chain, type ContractEventName, type ContractFunctionArgs, type ContractFunctionName,
  type ContractFunctionReturnType, type EIP1193Provider, type Hash, type PublicClient, type WalletClient,
  BaseError, ContractFunctionRevertedError, UserRejectedRequestError, createPublicClient, createWalletClient,
  custom, defineChain, http, numberToHex, parseSignature,
} from "viem";
import { abis } from "./generated/contracts";

/** The generated ABIs under the deployment record's names (the quote token: the ERC-20 + EIP-2612
 *  interface of the local mock stablecoin, which any quote token the deploy accepts provides). */
export const ABIS = { ...abis, QuoteToken: abis.MockStablecoin } as const;
export type Name = keyof typeof ABIS;
type AbiOf<N extends Name> = (typeof ABIS)[N];
type View = "pure" | "view";
type Write = "nonpayable" | "payable";
export type ReadFn<N extends Name> = ContractFunctionName<AbiOf<N>, View>;
export type ReadArgs<N extends Name, F extends ReadFn<N>> = ContractFunctionArgs<AbiOf<N>, View, F>;
/** What `read(name, fn)` returns: the type viem infers from the generated ABI (structs as objects). */
export type Returns<N extends Name, F extends ReadFn<N>> = ContractFunctionReturnType<AbiOf<N>, View, F>;
export type WriteFn<N extends Name> = ContractFunctionName<AbiOf<N>, Write>;

export type Deployment = {
  network: string;
  chain_id: number;
  contracts: Record<string, { address: Address }>;
  params: Record<string, unknown>;
};
/** config.json: the node, the deployment record and (when the server runs the auditor) its JSON, paths next to the app */
export type Config = { rpcUrl: string; deployment?: string; audit?: string };

export type Meta = {
  wattDecimals: number; tslDecimals: number; tslSymbol: string;
  quoteDecimals: number; quoteSymbol: string;
  tick: bigint; floor: bigint; ceiling: bigint; minOrderWh: bigint; makerBps: bigint; takerBps: bigint;
  rentRate: bigint; graceS: bigint; releasePrice: bigint; claimWindowS: bigint;
};

export const app = {
  dep: undefined as unknown as Deployment,
  cfg: undefined as unknown as Config,
  chain: undefined as unknown as Chain,
  pub: undefined as unknown as PublicClient,
  wallet: undefined as WalletClient | undefined,
  provider: undefined as EIP1193Provider | undefined,
  account: undefined as Address | undefined,
  meta: undefined as unknown as Meta,
  fromBlock: 0n,
};

/** The network in words: "local test chain" for Anvil/Hardhat (31337), else the deployment's network name. */
function networkName(dep: Deployment): string {
  const known: Record<number, string> = { 1: "Ethereum", 10: "Optimism", 100: "Gnosis", 137: "Polygon", 8453: "Base", 42161: "Arbitrum One",
    11155111: "Sepolia testnet", 17000: "Holesky testnet", 31337: "local test chain" };
  return `gridmint on ${known[dep.chain_id] ?? dep.network}`;
}

export async function load(): Promise<void> {
  // both at once; a config that names another record costs a second round trip
  const get = async (url: string) => {
    const res = await fetch(url, { cache: "no-store" });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  };
  const [cfg, first] = (await Promise.all([get("config.json"), get("deployment.json")])) as [Config, Deployment];
  const dep: Deployment = cfg.deployment && cfg.deployment !== "deployment.json" ? await get(cfg.deployment) : first;
  app.cfg = cfg;
  app.dep = dep;
  app.fromBlock = BigInt(Number(dep.params?.deploy_block ?? 0));
  app.chain = defineChain({
    id: dep.chain_id,
    name: networkName(dep),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [cfg.rpcUrl] } },
  });
  // JSON-RPC batching: a page's dozen reads go to the node as one HTTP request
  app.pub = createPublicClient({ chain: app.chain, transport: http(cfg.rpcUrl, { batch: { wait: 5 } }), pollingInterval: 500 }) as PublicClient;
  const [wattDecimals, tslDecimals, tslSymbol, quoteDecimals, quoteSymbol, tick, floor, ceiling, minOrderWh, makerBps,
    takerBps, rentRate, graceS, releasePrice, claimWindowS] = await Promise.all([
    read("WattToken", "decimals"), read("StorageRentToken", "decimals"),
    read("StorageRentToken", "symbol"), read("QuoteToken", "decimals"), read("QuoteToken", "symbol"),
    read("EnergyExchange", "TICK"), read("EnergyExchange", "floor_price"),
    read("EnergyExchange", "ceiling_price"), read("EnergyExchange", "min_order_wh"),
    read("EnergyExchange", "maker_fee_bps"), read("EnergyExchange", "taker_fee_bps"),
    read("WattToken", "rent_rate"), read("WattToken", "rent_grace_period"),
    read("WattToken", "release_price"), read("EnvironmentalCertificate", "CLAIM_WINDOW"),
  ]);
  app.meta = { wattDecimals, tslDecimals, tslSymbol, quoteDecimals, quoteSymbol, tick, floor, ceiling, minOrderWh,
    makerBps, takerBps, rentRate, graceS, releasePrice, claimWindowS };
}

/** Re-reads the parameters an announced change may have moved (band, fees, rent). */
export async function refreshMeta(): Promise<void> {
  const [floor, ceiling, minOrderWh, makerBps, takerBps, rentRate] = await Promise.all([
    read("EnergyExchange", "floor_price"), read("EnergyExchange", "ceiling_price"),
    read("EnergyExchange", "min_order_wh"), read("EnergyExchange", "maker_fee_bps"),
    read("EnergyExchange", "taker_fee_bps"), read("WattToken", "rent_rate"),
  ]);
  Object.assign(app.meta, { floor, ceiling, minOrderWh, makerBps, takerBps, rentRate });
}

export const has = (name: string) => name in app.dep.contracts;
export const addr = (name: Name) => app.dep.contracts[name].address;
export const abi = <N extends Name>(name: N): AbiOf<N> => ABIS[name];

/** A view of a deployed contract, typed by its generated ABI: `read("EnergyExchange", "floor_price")` is a
 *  Promise<bigint>, `read("EnergyExchange", "depth", [true, 12n])` of readonly { price; amount_wh }[]. */
export function read<N extends Name, F extends ReadFn<N>>(
  name: N, functionName: F, ...args: ReadArgs<N, F> extends readonly [] ? [] : [ReadArgs<N, F>]
): Promise<Returns<N, F>> {
  return app.pub.readContract({ address: addr(name), abi: abi(name), functionName, args: args[0] } as any) as Promise<Returns<N, F>>;
}

/** Chain time: the head block's timestamp (the seeded chain runs ahead of the wall clock). */
export let head = { number: 0n, timestamp: 0n };
export async function updateHead(): Promise<void> {
  const b = await app.pub.getBlock({ blockTag: "latest" });
  head = { number: b.number!, timestamp: b.timestamp };
}

// ---------------------------------------------------------------- event logs, cached per session

type Log = { args: Record<string, any>; blockNumber: bigint; transactionHash: Hash; logIndex: number };
const caches = new Map<string, { last: bigint; logs: Log[]; pending?: Promise<Log[]> }>();

/** All logs of `contract.eventName` (optionally filtered on indexed args) up to the head, fetched incrementally. */
export async function logs<N extends Name>(contract: N, eventName: ContractEventName<AbiOf<N>>, args?: Record<string, unknown>): Promise<Log[]> {
  const key = `${contract}.${eventName}.${JSON.stringify(args ?? {}, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`;
  let c = caches.get(key);
  if (!c) caches.set(key, (c = { last: app.fromBlock - 1n, logs: [] }));
  const entry = c;
  if (entry.pending) return entry.pending;
  const to = head.number;
  if (to <= entry.last) return entry.logs;
  entry.pending = (async () => {
    try {
      const got = (await app.pub.getContractEvents({
        address: addr(contract), abi: abi(contract), eventName, args, fromBlock: entry.last + 1n, toBlock: to,
      } as any)) as unknown as Log[];
      entry.logs.push(...got);
      entry.last = to;
      return entry.logs;
    } finally {
      entry.pending = undefined;
    }
  })();
  return entry.pending;
}

const blockTimes = new Map<bigint, bigint>();
export async function blockTime(n: bigint): Promise<bigint> {
  let t = blockTimes.get(n);
  if (t === undefined) {
    t = (await app.pub.getBlock({ blockNumber: n })).timestamp;
    blockTimes.set(n, t);
  }
  return t;
}

// ---------------------------------------------------------------- wallets (EIP-6963, window.ethereum)

export type WalletInfo = { uuid: string; name: string; icon: string; rdns: string };
export type Discovered = { info: WalletInfo; provider: EIP1193Provider };
export const wallets: Discovered[] = [];

export function discover(onChange: () => void): void {
  window.addEventListener("eip6963:announceProvider", (e: Event) => {
    const d = (e as CustomEvent).detail as Discovered;
    if (!wallets.some((w) => w.info.uuid === d.info.uuid)) {
      wallets.push(d);
      onChange();
    }
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  setTimeout(() => {
    const eth = (window as any).ethereum as EIP1193Provider | undefined;
    if (eth && wallets.length === 0) {
      wallets.push({ info: { uuid: "window.ethereum", name: "Browser wallet", icon: "", rdns: "window.ethereum" }, provider: eth });
      onChange();
    }
  }, 300);
}

export async function connect(w: Discovered, onChange: () => void): Promise<void> {
  const p = w.provider;
  const accounts = (await p.request({ method: "eth_requestAccounts" })) as Address[];
  if (!accounts.length) throw new Error("the wallet shared no account");
  await ensureChain(p);
  app.provider = p;
  app.account = accounts[0];
  app.wallet = createWalletClient({ account: accounts[0], chain: app.chain, transport: custom(p) });
  p.on?.("accountsChanged", (a: Address[]) => {
    if (app.provider !== p) return; // disconnected in the app
    app.account = a[0];
    app.wallet = a[0] ? createWalletClient({ account: a[0], chain: app.chain, transport: custom(p) }) : undefined;
    onChange();
  });
  p.on?.("chainChanged", () => onChange());
  sessionStorage.setItem("gridmint.wallet", w.info.rdns);
}

/** Forgets the connected wallet in this tab (the wallet itself keeps its permission until the member revokes it there). */
export function disconnect(): void {
  const p = app.provider;
  app.account = undefined;
  app.wallet = undefined;
  app.provider = undefined;
  sessionStorage.removeItem("gridmint.wallet");
  // wallets that support it (MetaMask) drop the site's permission too; others ignore it
  void p?.request({ method: "wallet_revokePermissions" as any, params: [{ eth_accounts: {} }] as any }).catch(() => undefined);
}

/** Asks the wallet to switch to the deployment's chain, adding it first when the wallet lacks it. */
export async function ensureChain(p: EIP1193Provider): Promise<void> {
  const id = Number(await p.request({ method: "eth_chainId" }));
  if (id === app.chain.id) return;
  const chainId = numberToHex(app.chain.id);
  try {
    await p.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (e: any) {
    if (e?.code !== 4902 && e?.data?.originalError?.code !== 4902) throw e;
    await p.request({
      method: "wallet_addEthereumChain",
      params: [{ chainId, chainName: app.chain.name, nativeCurrency: app.chain.nativeCurrency, rpcUrls: [app.cfg.rpcUrl] }],
    });
  }
}

// ---------------------------------------------------------------- writes: simulate, then send, then track

/** A transaction to a deployed contract, typed by its generated ABI (function name and arguments). */
export type Call<N extends Name = Name, F extends WriteFn<N> = WriteFn<N>> = {
  contract: N; functionName: F; args: ContractFunctionArgs<AbiOf<N>, Write, F>;
};
export type TxView = { set(state: "simulating" | "signing" | "pending" | "confirmed" | "failed" | "refused", text: string): void };

/** The revert reason in words ("exchange: price outside band"), or the wallet's refusal. */
export function reason(e: unknown): string {
  if (e instanceof BaseError) {
    const rev = e.walk((x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (rev) return rev.reason ?? rev.data?.errorName ?? rev.shortMessage;
    if (e.walk((x) => x instanceof UserRejectedRequestError)) return "you rejected the request in your wallet";
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Simulates `call` from the member's account; on a revert shows the reason and sends nothing.
 *  Otherwise asks the wallet to send it and follows it: pending -> confirmed | failed. */
export async function send<N extends Name, F extends WriteFn<N>>(label: string, call: Call<N, F>, view: TxView,
  /** what the mined transaction did, in words, from its receipt's logs (the confirmation line) */
  describe?: (logs: readonly any[]) => string): Promise<{ ok: boolean; logs?: any[] }> {
  if (!app.wallet || !app.account) {
    view.set("refused", `${label}: connect a wallet first.`);
    return { ok: false };
  }
  view.set("simulating", `${label}: checking…`);
  let request;
  try {
    ({ request } = await app.pub.simulateContract({
      address: addr(call.contract), abi: abi(call.contract), functionName: call.functionName,
      args: call.args, account: app.account,
    } as any));
  } catch (e) {
    view.set("refused", `${label} refused, nothing sent: ${reason(e)}`);
    return { ok: false };
  }
  let hash: Hash;
  try {
    // gas from an estimate with headroom: storage rent makes a call's cost depend on the block's time
    const gas = await app.pub.estimateContractGas({ ...(request as any), account: app.account });
    view.set("signing", `${label}: confirm in your wallet…`);
    await ensureChain(app.provider!);
    hash = await app.wallet.writeContract({ ...(request as any), account: app.account, chain: app.chain, gas: (gas * 13n) / 10n });
  } catch (e) {
    view.set("failed", `${label} not sent: ${reason(e)}`);
    return { ok: false };
  }
  view.set("pending", `${label}: sent, waiting for the next block (${hash.slice(0, 10)}…)`);
  const receipt = await app.pub.waitForTransactionReceipt({ hash, pollingInterval: 250 });
  if (receipt.status !== "success") {
    // the chain moved between simulation and inclusion (a transaction ahead of it in the block, time):
    // replay it on the state after that block, where what made it fail usually still holds
    let why = "reverted";
    try {
      await app.pub.simulateContract({ ...(request as any), account: app.account, blockNumber: receipt.blockNumber });
    } catch (e) {
      why = reason(e);
    }
    view.set("failed", `${label} failed on chain, nothing changed but the gas: ${why}`);
    return { ok: false };
  }
  let what = "";
  try {
    what = describe ? describe(receipt.logs) : "";
  } catch (e) {
    console.error(e); // the transaction is confirmed whatever its description
  }
  view.set("confirmed", what ? `Confirmed: ${what}` : `${label}: confirmed`);
  return { ok: true, logs: receipt.logs };
}

/** An EIP-2612 permit signed in the wallet (no transaction): v, r, s for `token` -> `spender`. */
export async function signPermit(token: "QuoteToken" | "StorageRentToken", spender: Address, value: bigint, deadline: bigint) {
  const [nonce, domain] = await Promise.all([read(token, "nonces", [app.account!]), read(token, "eip712Domain")]);
  const sig = await app.wallet!.signTypedData({
    account: app.account!,
    domain: { name: domain[1], version: domain[2], chainId: Number(domain[3]), verifyingContract: domain[4] },
    types: {
      Permit: [
        { name: "owner", type: "address" }, { name: "spender", type: "address" }, { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message: { owner: app.account!, spender, value, nonce, deadline },
  });
  const { v, r, s, yParity } = parseSignature(sig);
  return { v: Number(v ?? BigInt(27 + yParity)), r, s };
}

/** Makes sure `spender` may pull `amount` of the quote token: when the allowance is short, an EIP-2612
 *  permit signed in the wallet (no approve transaction to sign first), sent in its own simulated call. */
export async function ensureQuoteAllowance(spender: "EnergyExchange" | "CertificateExchange" | "EnergyAuction", amount: bigint, shown: string, view: TxView): Promise<boolean> {
  if (amount === 0n) return true;
  const allowance = await read("QuoteToken", "allowance", [app.account!, addr(spender)]);
  if (allowance >= amount) return true;
  view.set("signing", `Sign a permit for ${shown} in your wallet…`);
  const deadline = head.timestamp + 3_600n;
  let sig;
  try {
    sig = await signPermit("QuoteToken", addr(spender), amount, deadline);
  } catch (e) {
    view.set("failed", `Permit not signed: ${reason(e)}`);
    return false;
  }
  const to = { EnergyExchange: "exchange", CertificateExchange: "certificate market", EnergyAuction: "auction" }[spender];
  const r = await send(`Permit ${shown} to the ${to}`, {
    contract: "QuoteToken", functionName: "permit", args: [app.account!, addr(spender), amount, deadline, sig.v, sig.r, sig.s],
  }, view);
  return r.ok;
}
