"""``python -m invoice_financing.populate``: load a running service with realistic data.

A client of the service's HTTP API and nothing else::

    python -m invoice_financing.populate --url http://127.0.0.1:8000 \\
        --issuers 200 --investors 300 --invoices 3000 [--seed N] [--concurrency 32]

1. registers the issuers and investors (each ``202 Accepted``) and waits until Financing
   knows them (the registrations travel over the bus: ``GET /issuers``, ``GET
   /investors/{id}``);
2. deposits money (euro cents): most investors a few thousand to tens of thousands of euros,
   funds hundreds of thousands, small savers less than any invoice is worth; a few
   investors withdraw part of it again;
3. puts the invoices up for sale, due 30 to 120 days ahead;
4. bids on a share of them, each bid of the invoice's whole amount (now and then a lower
   one, which the invoice rejects): small savers' bids are refused (``insufficient_funds``),
   and some invoices are bid on a second time once the first bid settled: one already
   financed rejects the latecomer (``already_financed``) and the saga releases its money.

Every command's outcome is read from its status URL, and every bid is followed until its
saga has financed the invoice or released the money, so the summary tells what the read
models show: invoices for sale and financed, bids financed, rejected and refused. Requests
run ``--concurrency`` at a time; each carries an ``Idempotency-Key``, so a retry (a full
queue's 429, a dropped connection) queues nothing twice. A service that cannot be reached,
or that does not get through the work within ``--timeout`` seconds per step, ends the run
with a message saying which, and exit status 1.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

__all__ = [
    "BidOutcome",
    "Plan",
    "PopulateError",
    "Summary",
    "app",
    "euros",
    "populate",
]

PREFIX = "/api/v1"
CURRENCY = "EUR"
FINAL = frozenset({"done", "refused", "dead"})
BID_SETTLED = frozenset({"financed", "released"})
"""A bid's last statuses in the read model: its saga committed or released the money."""
PAGE = 100

app = typer.Typer(add_completion=False)


class PopulateError(Exception):
    """The run cannot go on: the service is unreachable, refuses, or does not catch up."""


@dataclass(frozen=True)
class Plan:
    """How much to load, and how.

    ``bid_share`` of the invoices get a bid, ``second_bid_share`` of those a second one
    once the first settled, ``underbid_share`` of the bids offer less than the invoice's
    amount. ``small_saver_share`` of the investors deposit less than any invoice is worth,
    ``fund_share`` of them a great deal; ``withdrawal_share`` take part of it out again.
    ``timeout_s`` bounds each wait for the service (commands handled, read models caught
    up); ``poll_s`` is the first pause between looks.
    """

    issuers: int = 200
    investors: int = 300
    invoices: int = 3000
    seed: int = 7
    concurrency: int = 32
    timeout_s: float = 120.0
    poll_s: float = 0.05
    bid_share: float = 0.6
    second_bid_share: float = 0.15
    underbid_share: float = 0.03
    small_saver_share: float = 0.2
    fund_share: float = 0.15
    withdrawal_share: float = 0.15


BidStatus = Literal["financed", "released", "refused"]


@dataclass(frozen=True)
class BidOutcome:
    """How one bid ended: ``financed``; ``released`` (the invoice rejected it, for
    ``reason``, and the saga gave the money back); or ``refused`` at once (``reason``: the
    error code, ``insufficient_funds``)."""

    bid_id: str
    investor_id: str
    invoice_id: str
    amount: int
    status: BidStatus
    reason: str = ""


@dataclass
class Summary:
    """What a run loaded, as the service answered it."""

    seed: int
    issuers: list[str] = field(default_factory=list)
    investors: list[str] = field(default_factory=list)
    small_savers: list[str] = field(default_factory=list)
    invoices: dict[str, int] = field(default_factory=dict)
    """Invoice id → amount, of those put up for sale."""
    deposited: Counter[str] = field(default_factory=Counter)
    """Investor id → the deposits handled, in cents."""
    withdrawn: Counter[str] = field(default_factory=Counter)
    """Investor id → the withdrawals handled, in cents."""
    deposits: int = 0
    withdrawals: int = 0
    bids: list[BidOutcome] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    """Error code → how many commands the service refused with it."""
    invoice_statuses: Counter[str] = field(default_factory=Counter)
    """Status → how many invoices the read model shows in it, at the end (this run's and
    those the service held before)."""
    invoice_statuses_before: Counter[str] = field(default_factory=Counter)
    """Status → how many invoices the read model showed in it before the run."""
    commands: int = 0
    elapsed_s: float = 0.0

    def bids_by(self, status: BidStatus) -> list[BidOutcome]:
        """The bids that ended ``status``."""
        return [bid for bid in self.bids if bid.status == status]


def euros(cents: int) -> str:
    """``cents`` as people read euros: ``1,234.50 EUR``."""
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{units:,}.{rest:02d} {CURRENCY}"


async def populate(
    client: httpx.AsyncClient, plan: Plan, *, console: Console | None = None
) -> Summary:
    """Load the service ``client`` speaks to (its ``base_url``) as ``plan`` says; the
    summary of what was loaded. Raises PopulateError when the run cannot go on."""
    console = console or Console()
    started = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    loader = _Loader(client, plan, progress)
    with progress:
        await loader.run()
    loader.summary.elapsed_s = time.perf_counter() - started
    return loader.summary


# -- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bid:
    bid_id: str
    investor_id: str
    invoice_id: str
    amount: int


class _Loader:
    """One run: the plan's random choices, the HTTP calls, the progress shown."""

    def __init__(self, client: httpx.AsyncClient, plan: Plan, progress: Progress) -> None:
        self.client = client
        self.plan = plan
        self.progress = progress
        self.rng = random.Random(plan.seed)
        self.summary = Summary(seed=plan.seed)
        self.limit = asyncio.Semaphore(plan.concurrency)
        self.run_id = uuid.uuid4().hex[:12]
        """Scopes this run's idempotency keys: another run with the same seed is new work."""
        self.sent = 0

    async def run(self) -> None:
        await self.check_reachable()
        self.summary.invoice_statuses_before = await self.invoice_counts()
        await self.register()
        await self.wait_until_financing_knows()
        await self.deposit()
        await self.withdraw()
        await self.put_invoices_for_sale()
        await self.bid()
        await self.count_invoices()
        self.summary.commands = self.sent

    # -- steps ---------------------------------------------------------------------------

    async def check_reachable(self) -> None:
        try:
            answer = await self.client.get("/health/live")
        except httpx.TransportError as exc:
            raise PopulateError(
                f"cannot reach the service at {self.client.base_url}: {_reason(exc)}"
            ) from None
        if answer.status_code != 200:
            raise PopulateError(
                f"{self.client.base_url}/health/live answered {answer.status_code}: "
                f"{answer.text[:200]}"
            )

    async def register(self) -> None:
        plan, summary = self.plan, self.summary
        issuers = [_company(self.rng) for _ in range(plan.issuers)]
        investors = [_person(self.rng) for _ in range(plan.investors)]
        task = self.progress.add_task("registering", total=2 * (plan.issuers + plan.investors))
        accepted = await self.gather(
            task,
            [
                *(
                    self.send("/issuers", {"name": name}, f"issuer-{n}")
                    for n, name in enumerate(issuers)
                ),
                *(
                    self.send("/investors", {"name": name}, f"investor-{n}")
                    for n, name in enumerate(investors)
                ),
            ],
        )
        outcomes = await self.outcomes([a["commandId"] for a in accepted], task)
        done = [a["aggregateId"] for a in accepted if outcomes[a["commandId"]]["status"] == "done"]
        summary.issuers = done[: plan.issuers]
        summary.investors = done[plan.issuers :]
        if len(done) < len(accepted):
            raise PopulateError(f"{len(accepted) - len(done)} registrations were refused")

    async def wait_until_financing_knows(self) -> None:
        """Until Financing's read models show every issuer and investor (Registering's
        events reach Financing over the bus, then its queued commands open them)."""
        issuers, investors = self.summary.issuers, self.summary.investors
        task = self.progress.add_task("waiting for Financing", total=len(issuers) + len(investors))
        unknown_issuers = set(issuers)
        unknown_investors = list(investors)
        deadline = time.monotonic() + self.plan.timeout_s
        pause = self.plan.poll_s
        while unknown_issuers or unknown_investors:
            before = len(unknown_issuers) + len(unknown_investors)
            if unknown_issuers:
                unknown_issuers -= await self.listed_issuers()
            found = await asyncio.gather(*(self.investor_known(i) for i in unknown_investors))
            unknown_investors = [
                i for i, known in zip(unknown_investors, found, strict=True) if not known
            ]
            self.progress.advance(task, before - len(unknown_issuers) - len(unknown_investors))
            if not (unknown_issuers or unknown_investors):
                break
            if time.monotonic() > deadline:
                raise PopulateError(
                    f"Financing did not learn of {len(unknown_issuers)} issuers and "
                    f"{len(unknown_investors)} investors within {self.plan.timeout_s:.0f} s: "
                    "are the relay and Financing's registrations consumer running (the "
                    "service runs them unless ESKIT_RUN_PROJECTIONS is off; with ESKIT_BUS_URL "
                    "they need the bus)?"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def deposit(self) -> None:
        plan, rng, summary = self.plan, self.rng, self.summary
        investors = summary.investors
        savers = max(1, round(plan.small_saver_share * len(investors))) if len(investors) > 1 else 0
        funds = round(plan.fund_share * len(investors))
        profiles = ["saver"] * savers + ["fund"] * funds
        profiles += ["regular"] * (len(investors) - len(profiles))
        rng.shuffle(profiles)
        deposits: list[tuple[str, int]] = []
        for investor, profile in zip(investors, profiles, strict=True):
            if profile == "saver":
                summary.small_savers.append(investor)
                deposits.append((investor, rng.randrange(50, 400) * 100))
            elif profile == "fund":
                deposits += [(investor, rng.randrange(50_000, 250_000) * 100) for _ in range(2)]
            else:
                times = rng.choice((1, 1, 2, 3))
                deposits += [(investor, rng.randrange(5_000, 60_000) * 100) for _ in range(times)]
        outcomes = await self.commands(
            "depositing",
            [
                (f"/investors/{investor}/deposits", {"amount": amount, "currency": CURRENCY})
                for investor, amount in deposits
            ],
            "deposit",
        )
        for (investor, amount), outcome in zip(deposits, outcomes, strict=True):
            if outcome["status"] == "done":
                summary.deposited[investor] += amount
                summary.deposits += 1

    async def withdraw(self) -> None:
        rng, summary = self.rng, self.summary
        savers = set(summary.small_savers)
        candidates = [i for i in summary.investors if i not in savers]
        count = round(self.plan.withdrawal_share * len(candidates))
        withdrawals = [
            (
                investor,
                max(100, summary.deposited[investor] * rng.randrange(10, 40) // 100 // 100 * 100),
            )
            for investor in rng.sample(candidates, count)
        ]
        outcomes = await self.commands(
            "withdrawing",
            [
                (f"/investors/{investor}/withdrawals", {"amount": amount, "currency": CURRENCY})
                for investor, amount in withdrawals
            ],
            "withdrawal",
        )
        for (investor, amount), outcome in zip(withdrawals, outcomes, strict=True):
            if outcome["status"] == "done":
                summary.withdrawn[investor] += amount
                summary.withdrawals += 1

    async def put_invoices_for_sale(self) -> None:
        rng, summary = self.rng, self.summary
        today = date.today()
        invoices: list[dict[str, Any]] = []
        for _ in range(self.plan.invoices):
            # most invoices are of a few thousand euros, a few of tens of thousands
            amount = min(max(round(rng.lognormvariate(math.log(6_000), 0.8), 2), 500), 80_000)
            due = today + timedelta(days=rng.randint(30, 120))
            invoices.append(
                {
                    "issuerId": rng.choice(summary.issuers),
                    "amount": round(amount * 100),
                    "currency": CURRENCY,
                    "dueDate": due.isoformat(),
                }
            )
        accepted, outcomes = await self.commands_accepted(
            "putting invoices up for sale", [("/invoices", body) for body in invoices], "invoice"
        )
        for body, answer, outcome in zip(invoices, accepted, outcomes, strict=True):
            if outcome["status"] == "done":
                summary.invoices[answer["aggregateId"]] = body["amount"]

    async def bid(self) -> None:
        """Bids on a share of the invoices, then a second bid on some of those once the
        first settled: on an invoice already financed it is rejected, on one whose first
        bid was refused it may finance it."""
        plan, rng, summary = self.plan, self.rng, self.summary
        invoices = list(summary.invoices)
        if not invoices or not summary.investors:
            return
        chosen = rng.sample(invoices, round(plan.bid_share * len(invoices)))
        first = [self.plan_bid(rng.choice(summary.investors), invoice) for invoice in chosen]
        await self.place_bids("bidding", first)
        if not chosen:
            return
        again = rng.sample(chosen, max(1, round(plan.second_bid_share * len(chosen))))
        rich = sorted(summary.investors, key=lambda i: -summary.deposited[i])
        bidders = rich[: max(1, len(rich) // 5)]
        first_bidder = {bid.invoice_id: bid.investor_id for bid in first}
        second = []
        for invoice in again:
            others = [i for i in bidders if i != first_bidder[invoice]] or bidders
            second.append(self.plan_bid(rng.choice(others), invoice))
        await self.place_bids("bidding again", second)

    def plan_bid(self, investor: str, invoice: str) -> _Bid:
        amount = self.summary.invoices[invoice]
        if self.rng.random() < self.plan.underbid_share:
            amount = max(100, amount * self.rng.randrange(85, 98) // 100)  # rejected
        return _Bid(
            str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), investor, invoice, amount
        )

    async def place_bids(self, what: str, bids: Sequence[_Bid]) -> None:
        """Place ``bids`` and follow each until it ends: refused at once, or its saga
        financed the invoice or released the money."""
        outcomes = await self.commands(
            what,
            [
                (
                    f"/invoices/{bid.invoice_id}/bids",
                    {
                        "investorId": bid.investor_id,
                        "amount": bid.amount,
                        "currency": CURRENCY,
                        "bidId": bid.bid_id,
                    },
                )
                for bid in bids
            ],
            "bid",
        )
        reserved = []
        for bid, outcome in zip(bids, outcomes, strict=True):
            if outcome["status"] == "done":
                reserved.append(bid)
            else:
                code = (outcome.get("error") or {}).get("code", outcome["status"])
                self.summary.bids.append(_outcome(bid, "refused", code))
        task = self.progress.add_task(f"settling ({what})", total=len(reserved))
        rows = await self.poll(
            [bid.bid_id for bid in reserved], self.bid_row, task, "bids settled by their saga"
        )
        for bid in reserved:
            row = rows[bid.bid_id]
            self.summary.bids.append(_outcome(bid, row["status"], row.get("reason") or ""))

    async def invoice_counts(self) -> Counter[str]:
        """How many invoices the read model shows in each status."""
        counts = Counter[str]()
        for status in ("for_sale", "financed", "withdrawn"):
            answer = await self.get(f"{PREFIX}/invoices", {"status": status, "limit": 1})
            counts[status] = int(answer.json()["total"])
        return counts

    async def count_invoices(self) -> None:
        """The invoices by status as the read model shows them, once it shows this run's
        financed bids (each one's invoice financed)."""
        before = self.summary.invoice_statuses_before
        financed = before["financed"] + len(self.summary.bids_by("financed"))
        deadline = time.monotonic() + self.plan.timeout_s
        while (counts := await self.invoice_counts())["financed"] < financed:
            if time.monotonic() > deadline:
                raise PopulateError(
                    f"the invoices' read model shows {counts['financed']} financed invoices, "
                    f"not {financed}, after {self.plan.timeout_s:.0f} s"
                )
            await asyncio.sleep(self.plan.poll_s)
        self.summary.invoice_statuses = counts

    # -- commands ------------------------------------------------------------------------

    async def commands(
        self, what: str, requests: Sequence[tuple[str, dict[str, Any]]], kind: str
    ) -> list[dict[str, Any]]:
        """Send each ``(path, body)`` and wait for their outcomes, in order."""
        return (await self.commands_accepted(what, requests, kind))[1]

    async def commands_accepted(
        self, what: str, requests: Sequence[tuple[str, dict[str, Any]]], kind: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Send each ``(path, body)``; what each answered, and each one's final status."""
        task = self.progress.add_task(what, total=2 * len(requests))
        offset = self.sent
        accepted = await self.gather(
            task,
            [
                self.send(path, body, f"{kind}-{offset + n}")
                for n, (path, body) in enumerate(requests)
            ],
        )
        found = await self.outcomes([a["commandId"] for a in accepted], task)
        return accepted, [found[a["commandId"]] for a in accepted]

    async def send(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        """POST a command; its ``202`` answer. A full queue (429) is waited out, a dropped
        connection retried: the idempotency key makes a retry queue nothing twice."""
        self.sent += 1
        headers = {"Idempotency-Key": f"populate-{self.run_id}-{key}"}
        deadline = time.monotonic() + self.plan.timeout_s
        failures = 0
        while True:
            try:
                async with self.limit:
                    answer = await self.client.post(PREFIX + path, json=body, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= 5:
                    raise PopulateError(
                        f"POST {PREFIX}{path} failed {failures} times: {_reason(exc)}"
                    ) from None
                await asyncio.sleep(0.2 * 2**failures)
                continue
            if answer.status_code == 202:
                accepted: dict[str, Any] = answer.json()
                return accepted
            if answer.status_code == 429 and time.monotonic() < deadline:
                await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            raise PopulateError(
                f"POST {PREFIX}{path} answered {answer.status_code}: {answer.text[:300]}"
            )

    async def outcomes(self, command_ids: Sequence[str], task: TaskID) -> dict[str, dict[str, Any]]:
        """Each command's status once final (done, refused or dead); refusals counted."""
        found = await self.poll(command_ids, self.command_status, task, "commands handled")
        for status in found.values():
            if status["status"] != "done":
                code = (status.get("error") or {}).get("code") or status["status"]
                self.summary.refused[code] += 1
        return found

    async def command_status(self, command_id: str) -> dict[str, Any] | None:
        answer = await self.get(f"{PREFIX}/commands/{command_id}")
        status: dict[str, Any] = answer.json()
        return status if status["status"] in FINAL else None

    async def bid_row(self, bid_id: str) -> dict[str, Any] | None:
        answer = await self.get(f"{PREFIX}/bids/{bid_id}", allow_missing=True)
        if answer.status_code == 404:
            return None
        row: dict[str, Any] = answer.json()
        return row if row["status"] in BID_SETTLED else None

    async def poll(
        self,
        ids: Sequence[str],
        look: Callable[[str], Awaitable[dict[str, Any] | None]],
        task: TaskID,
        what: str,
    ) -> dict[str, dict[str, Any]]:
        """``look`` at each id until it answers something (not None); what each answered.

        The ids are looked at in order, ``concurrency`` at a time: one batch with nothing
        final ends a round (the work behind it is further back in the queue).
        """
        found: dict[str, dict[str, Any]] = {}
        pending = list(ids)
        deadline = time.monotonic() + self.plan.timeout_s
        pause = self.plan.poll_s
        while pending:
            left = []
            for start in range(0, len(pending), self.plan.concurrency):
                batch = pending[start : start + self.plan.concurrency]
                answers = await asyncio.gather(*(look(i) for i in batch))
                for item, answer in zip(batch, answers, strict=True):
                    if answer is None:
                        left.append(item)
                    else:
                        found[item] = answer
                self.progress.advance(task, sum(a is not None for a in answers))
                if all(a is None for a in answers):
                    left += pending[start + len(batch) :]
                    break
            if len(left) < len(pending):
                pause = self.plan.poll_s  # progress: look again soon
            pending = left
            if not pending:
                break
            if time.monotonic() > deadline:
                raise PopulateError(
                    f"{len(pending)} of {len(ids)} {what} are still not done after "
                    f"{self.plan.timeout_s:.0f} s: are the service's queue workers, projections "
                    "and sagas running (ESKIT_RUN_PROJECTIONS, or `eskit worker`)?"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        return found

    # -- reads ---------------------------------------------------------------------------

    async def get(
        self, path: str, params: dict[str, Any] | None = None, *, allow_missing: bool = False
    ) -> httpx.Response:
        failures = 0
        while True:
            try:
                async with self.limit:
                    answer = await self.client.get(path, params=params)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= 5:
                    raise PopulateError(
                        f"GET {path} failed {failures} times: {_reason(exc)}"
                    ) from None
                await asyncio.sleep(0.2 * 2**failures)
                continue
            if answer.status_code == 200 or (allow_missing and answer.status_code == 404):
                return answer
            raise PopulateError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")

    async def listed_issuers(self) -> set[str]:
        """Every issuer id Financing's read model lists."""
        seen: set[str] = set()
        offset = 0
        while True:
            page = (await self.get(f"{PREFIX}/issuers", {"limit": PAGE, "offset": offset})).json()
            seen.update(row["id"] for row in page["items"])
            if not page["hasMore"]:
                return seen
            offset += PAGE

    async def investor_known(self, investor_id: str) -> bool:
        answer = await self.get(f"{PREFIX}/investors/{investor_id}", allow_missing=True)
        return answer.status_code == 200

    async def gather(
        self, task: TaskID, calls: Iterable[Awaitable[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Await ``calls`` together, advancing ``task`` as each ends; their answers in order."""

        async def one(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
            answer = await call
            self.progress.advance(task)
            return answer

        return list(await asyncio.gather(*(one(call) for call in calls)))


def _outcome(bid: _Bid, status: BidStatus, reason: str) -> BidOutcome:
    return BidOutcome(bid.bid_id, bid.investor_id, bid.invoice_id, bid.amount, status, reason)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


# -- names ---------------------------------------------------------------------------------

_PREFIXES = (
    "Nord", "Alpen", "Baltic", "Iberia", "Rhein", "Danube", "Atlas", "Helios", "Orion",
    "Aurora", "Vector", "Summit", "Harbor", "Cedar", "Granite", "Lumen", "Meridian", "Polar",
)  # fmt: skip
_TRADES = (
    "Logistics", "Textiles", "Foods", "Components", "Tooling", "Print", "Solar", "Timber",
    "Pharma", "Freight", "Metals", "Packaging", "Software", "Ceramics", "Optics", "Marine",
)  # fmt: skip
_FORMS = ("GmbH", "S.A.", "B.V.", "S.r.l.", "Ltd", "AG", "Oy", "SAS", "ApS")
_FIRST = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Katja", "Luca", "Marta", "Nils", "Olga", "Pablo", "Quentin", "Rosa", "Sven", "Tereza",
)  # fmt: skip
_LAST = (
    "Andersen", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat",
    "Ivanova", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Oliveira", "Petrov",
)  # fmt: skip


def _company(rng: random.Random) -> str:
    return f"{rng.choice(_PREFIXES)} {rng.choice(_TRADES)} {rng.choice(_FORMS)}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


# -- the command line ----------------------------------------------------------------------


def show(summary: Summary, console: Console) -> None:
    """The summary of a run as a table."""
    bids = summary.bids
    released = Counter(b.reason for b in summary.bids_by("released"))
    refused = Counter(b.reason for b in summary.bids_by("refused"))
    table = Table(
        show_header=False, title=f"loaded in {summary.elapsed_s:.1f} s (seed {summary.seed})"
    )
    table.add_row("issuers", str(len(summary.issuers)))
    table.add_row(
        "investors", f"{len(summary.investors)} ({len(summary.small_savers)} small savers)"
    )
    table.add_row("deposits", f"{summary.deposits}: {euros(sum(summary.deposited.values()))}")
    table.add_row("withdrawals", f"{summary.withdrawals}: {euros(sum(summary.withdrawn.values()))}")
    financed = len(summary.bids_by("financed"))
    table.add_row(
        "invoices",
        f"{len(summary.invoices)}: {len(summary.invoices) - financed} still for sale, "
        f"{financed} financed",
    )
    table.add_row("bids", str(len(bids)))
    table.add_row("  financed", str(len(summary.bids_by("financed"))))
    table.add_row("  rejected, money released", _counts(released))
    table.add_row("  refused", _counts(refused))
    rate = summary.commands / summary.elapsed_s if summary.elapsed_s else 0.0
    table.add_row("commands sent", f"{summary.commands} ({rate:,.0f} a second)")
    statuses = summary.invoice_statuses
    table.add_row(
        "the service now shows",
        f"{statuses['for_sale']} invoices for sale, {statuses['financed']} financed, "
        f"{statuses['withdrawn']} withdrawn",
    )
    console.print(table)


def _counts(counts: Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{code}: {n}" for code, n in counts.most_common()) + ")"


@app.command()
def main(
    url: Annotated[str, typer.Option(help="The service's HTTP address.")] = "http://127.0.0.1:8000",
    issuers: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    investors: Annotated[int, typer.Option(min=1, max=100_000)] = 300,
    invoices: Annotated[int, typer.Option(min=0, max=1_000_000)] = 3000,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: a new one, shown).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Requests at a time.")] = 32,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds each step may wait for the service.")
    ] = 120.0,
    api_key: Annotated[
        str | None, typer.Option(help="Sent as `Authorization: Bearer` (ESKIT_API_KEYS on).")
    ] = None,
) -> None:
    """Load the running invoice-financing service with issuers, investors, invoices and bids."""
    console = Console()
    plan = Plan(
        issuers=issuers,
        investors=investors,
        invoices=invoices,
        seed=seed if seed is not None else random.randrange(1_000_000),
        concurrency=concurrency,
        timeout_s=timeout,
    )
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def load() -> Summary:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=30.0, limits=limits
        ) as client:
            return await populate(client, plan, console=console)

    try:
        summary = asyncio.run(load())
    except PopulateError as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    show(summary, console)


if __name__ == "__main__":
    app()
