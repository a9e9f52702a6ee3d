"""The invoice-financing reference service: issuers sell invoices, investors finance them.

Two bounded contexts, each its own package: ``registering`` (issuers and investors sign up;
its events are the integration events the other context learns of them by) and
``financing`` (the issuers and investors it knows, investors' balances, invoices and bids).
``commands`` lists every command and builds every command handler; ``projections`` and
``queries`` are the read side.
"""
