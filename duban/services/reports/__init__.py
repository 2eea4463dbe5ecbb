"""Reports from the ledger: figures as of a day, daily snapshots, the daily report, the ledger file.

`figures` counts the ledger as it stood at the end of any day; `snapshots` records what a day
reported and the trend behind it; `daily` builds and writes the daily report (整改进度日报);
`ledger` writes the whole 整改台账; `delivery` sends the daily report and the month's ranking
to the plan's audience.
"""
