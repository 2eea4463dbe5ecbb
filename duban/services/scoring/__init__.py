"""Fines (考核扣款) and the monthly ranking (月考评) from the ledger.

`penalties` holds the two views of fines (the ledger's and the ladder's accruals); `monthly`
computes a month's ranking and freezes it once; `snapshot` is a ranking with its inputs and
its stored form; `documents` writes the 月考评 通报 and its breakdown.
"""
