"""Wallets: the small domain of eskit's own tests.

A wallet has an owner and a balance in minor units. It is opened, paid into and out of
under payment ids (a repeat changes nothing, another amount under the same id is refused),
never goes below zero, and its owner can be renamed. ``domain`` holds the events, the
aggregate, the commands and the command handler; ``projections`` a document per wallet and
a search index over owners; ``service`` a tiny service over both, for the tests that run
``eskit serve``; ``processes`` a welcome-bonus saga, and the service with it and a command
queue.
"""
