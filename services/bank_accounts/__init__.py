"""The bank-account reference service: open accounts, deposit, withdraw, change e-mail."""

from bank_accounts.app import build_handler, registry
from bank_accounts.commands import ChangeEmail, DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.domain import (
    MAX_BALANCE,
    AccountOpened,
    BalanceLimitError,
    BankAccount,
    EmailChanged,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidEmailError,
    MoneyDeposited,
    MoneyWithdrawn,
    PaymentConflictError,
)

__all__ = [
    "MAX_BALANCE",
    "AccountOpened",
    "BalanceLimitError",
    "BankAccount",
    "ChangeEmail",
    "DepositMoney",
    "EmailChanged",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvalidEmailError",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "OpenAccount",
    "PaymentConflictError",
    "WithdrawMoney",
    "build_handler",
    "registry",
]
