"""Live-mode bookkeeping: the ledger of every key a run made, the end-of-run check, the sweep."""
