"""``python -m bank_accounts [options of eskit serve]``: serve the bank-account service.

The same as ``eskit serve --service bank_accounts.service:service``; the store, ports and
the rest come from the ``ESKIT_*`` settings (``eskit serve --help``).
"""

import sys

from eskit.cli.main import app

SERVICE = "bank_accounts.service:service"

if __name__ == "__main__":
    app(["serve", "--service", SERVICE, *sys.argv[1:]], prog_name="python -m bank_accounts")
