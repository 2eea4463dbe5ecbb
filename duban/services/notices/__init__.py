"""Numbered documents: 督办通知书 per office, 催办通知 and 通报; receipts (签收) and downloads.

`documents` numbers, renders and stores any of them; `issuing` writes the 督办通知书 (lead
offices and co-offices); `rolling` issues the plan's rolling rounds for late problems;
`receipts` voids and signs for them; `reading` lists what a scope may read; `escalation`
issues the 催办通知 and 通报 that a deadline sweep's fired rungs call for.
"""
