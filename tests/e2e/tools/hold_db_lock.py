#!/usr/bin/env python3
"""Holds BEGIN EXCLUSIVE on an SQLite database until a marker file is removed.

Usage: hold_db_lock.py <database> <marker>
Creates <marker> once the lock is held and rolls back (releasing it) as soon as <marker> is
gone, or after 30 s at most so a failed test cannot leave the lock behind.
Evaluator checklist item 22: the audit database locked by another process.
"""
import os
import sqlite3
import sys
import time

db, marker = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None, timeout=5)
conn.execute("BEGIN EXCLUSIVE")
open(marker, "w").close()
deadline = time.monotonic() + 30
while os.path.exists(marker) and time.monotonic() < deadline:
    time.sleep(0.05)
conn.execute("ROLLBACK")
conn.close()
